"""Django admin: configuration (teams, people, reasons, lead definitions, SLA policies) is edited here; the record
is read-only. One module per area; importing them registers their ModelAdmins."""

from . import feedback, people, record, reports, routing, rules, sla, sync  # noqa: F401
