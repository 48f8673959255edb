"""Leads written from whole CRM records outside a sync run: mapped as the sync maps them, with no consequences."""
from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from handoff.exceptions import InvalidInput
from handoff.models import Lead, RepProfile

from .sync.config import SyncConfig
from .sync.mapping import lead_values


def leads_upsert_from_crm(*, records: Sequence[dict]) -> dict[str, int]:
    """Insert or update one lead per CRM record in one transaction; returns crm_id → lead id.

    A record is mapped as the sync maps it (CRM_FIELD_MAP, owners by their reps' CRM user ids, a queue leaves
    the lead unowned) and IsDeleted marks its lead deleted. Unlike a sync page it draws no consequences: no
    handoff is qualified, converted, reassigned or closed. It is for a caller that plays those through the state
    machine itself, as the demo seed replays its history.
    """
    by_id: dict[str, dict] = {}
    for record in records:
        if not record.get("Id") or not record.get("SystemModstamp"):
            raise InvalidInput("Every CRM record needs an Id and a SystemModstamp.", field="records")
        by_id[record["Id"]] = record  # a record given twice counts once, the later one
    config = SyncConfig.from_settings()
    owner_ids = {record.get("OwnerId") for record in by_id.values()} - {None, ""}
    owners = dict(RepProfile.objects.filter(crm_user_id__in=owner_ids).values_list("crm_user_id", "user_id"))
    rows = []
    for record in by_id.values():
        values = lead_values(record, config=config, owners=owners)
        values["is_deleted"] = bool(record.get("IsDeleted"))
        rows.append(Lead(**values))
    with transaction.atomic():
        Lead.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["crm_id"], update_fields=config.update_fields, batch_size=500
        )
        return dict(Lead.objects.filter(crm_id__any=list(by_id)).values_list("crm_id", "pk"))
