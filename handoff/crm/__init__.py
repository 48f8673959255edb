"""Talks to the CRM and returns plain data: the backend interface, its errors and `get_backend()`."""
from __future__ import annotations

from django.conf import settings

from .base import (
    MAX_COLLECTION,
    CrmApiBudgetExhausted,
    CrmAuthError,
    CrmBackend,
    CrmConfigError,
    CrmError,
    CrmRateLimited,
    CrmReplicationWindowExceeded,
    CrmUnavailable,
    WriteResult,
)
from .config import demo_config
from .demo import DemoBackend
from .salesforce import SalesforceBackend

__all__ = [
    "MAX_COLLECTION",
    "CrmApiBudgetExhausted",
    "CrmAuthError",
    "CrmBackend",
    "CrmConfigError",
    "CrmError",
    "CrmRateLimited",
    "CrmReplicationWindowExceeded",
    "CrmUnavailable",
    "WriteResult",
    "get_backend",
]

BACKENDS = ("demo", "salesforce")


def get_backend() -> CrmBackend:
    """A new backend for `settings.CRM_BACKEND` ("demo" or "salesforce"); build one per task or sync run.

    Construction validates configuration (CrmConfigError names the variable to fix) but makes no request.
    """
    name = str(getattr(settings, "CRM_BACKEND", "demo") or "demo").strip().lower()
    if name == "demo":
        return DemoBackend(demo_config(settings))
    if name == "salesforce":
        return SalesforceBackend.from_env()
    raise CrmConfigError(f"CRM_BACKEND must be one of {', '.join(BACKENDS)}; got {name!r}.")
