"""App configuration."""
from django.apps import AppConfig


class HandoffConfig(AppConfig):
    name = "handoff"
    verbose_name = "Lead handoff"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # isort: off
        # Registers the `__any` lookup (a list as one array parameter on PostgreSQL).
        from handoff import db  # noqa: F401
        # Registers the CRM write-back listener on the state machine's transitions.
        from handoff.services import writeback  # noqa: F401
        # Registers the SLA milestones listener (milestones follow every transition).
        from handoff.services import sla  # noqa: F401
        # Registers the routing listener (a handoff starting without an owner is routed; after the SLA clocks').
        from handoff.services import routing  # noqa: F401
        # Registers the feedback points listener (a reject, convert or recycle is noted for the request job).
        from handoff.services import feedback  # noqa: F401
        # isort: on
