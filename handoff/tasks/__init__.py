"""Celery tasks: one module per area; importing them here lets autodiscovery find every task."""
from . import rules  # noqa: F401
from . import sync  # noqa: F401
from . import sla  # noqa: F401
