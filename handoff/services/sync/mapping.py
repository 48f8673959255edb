"""Mapping a CRM record to Lead values: pure conversion, no database."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from handoff.crm.base import to_api_value

from .config import SyncConfig

QUEUE_PREFIX = "00G"


def _text(value: Any, max_length: int) -> str:
    if value is None:
        return ""
    # A CRM longer than the local column (a widened custom field) must not fail the whole page.
    return str(value)[:max_length]


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return float(value)


def moment(value: Any) -> datetime | None:
    """CRM dates become midnight UTC, datetimes stay aware; None stays None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time.min, tzinfo=UTC)
    return datetime.fromisoformat(str(value)).astimezone(UTC)


_JSON_PLAIN = frozenset({str, float, int, bool, type(None)})


def lead_values(record: dict, *, config: SyncConfig, owners: dict[str, int]) -> dict[str, Any]:
    """The Lead field values of one CRM record.

    `owners` maps CRM user ids to local user ids; a queue (00G…) or an unknown user leaves the lead unowned
    while `crm_owner_id` keeps the CRM's owner.
    """
    values: dict[str, Any] = {
        local: _number(record.get(crm)) if max_length is None else _text(record.get(crm), max_length)
        for local, crm, max_length in config.mapped_columns
    }
    owner_crm_id = record.get("OwnerId") or ""
    modstamp = moment(record["SystemModstamp"])
    values.update(
        crm_id=record["Id"],
        crm_owner_id=owner_crm_id,
        owner_id=None if owner_crm_id.startswith(QUEUE_PREFIX) else owners.get(owner_crm_id),
        is_converted=bool(record.get("IsConverted")),
        converted_at=moment(record.get("ConvertedDate")),
        is_deleted=False,
        crm_created_at=moment(record.get("CreatedDate")),
        crm_modified_at=modstamp,
        # Most values are already what the API sends; only dates and datetimes need writing back as text.
        raw={
            name: value if type(value) in _JSON_PLAIN else to_api_value(value)
            for name in config.crm_fields
            if name in record
            for value in (record[name],)
        },
    )
    return values
