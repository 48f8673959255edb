"""Celery tasks: one module per area; importing them here lets autodiscovery find every task."""
from . import feedback, reports, routing, sla, sync  # noqa: F401
