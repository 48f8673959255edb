"""The sync's configuration: the CRM_* settings read and checked at start, and what the sync reads of a lead."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import models

from handoff.crm.base import CrmConfigError
from handoff.models import Lead

SOBJECT = "Lead"
# Always read: identity, ownership, conversion and the timestamps the sync itself runs on.
ALWAYS = ("Id", "OwnerId", "IsConverted", "ConvertedDate", "CreatedDate", "SystemModstamp")
MEANINGS = ("open", "working", "converted", "closed")
# Lead fields the sync writes on every changed row (created_at is set once, on insert).
SYNCED_FIXED = [
    "owner",
    "crm_owner_id",
    "is_converted",
    "converted_at",
    "is_deleted",
    "crm_created_at",
    "crm_modified_at",
    "raw",
    "updated_at",
]


@dataclass(frozen=True)
class SyncConfig:
    field_map: dict[str, str]  # Lead field → CRM field
    status_map: dict[str, str]  # CRM status text → meaning
    writeback_status: dict[str, str]  # app action → CRM status text
    reason_field: str
    page_size: int
    bulk_threshold: int
    fetch_batch: int
    deleted_window: timedelta
    lease_seconds: int

    @classmethod
    def from_settings(cls) -> SyncConfig:
        """Read the CRM_* settings; CrmConfigError names the setting when one is wrong."""
        field_map = dict(settings.CRM_FIELD_MAP)
        lead_fields = {f.name: f for f in Lead._meta.get_fields() if getattr(f, "concrete", False)}
        for local, crm in field_map.items():
            model_field = lead_fields.get(local)
            if not isinstance(model_field, models.CharField | models.FloatField) or local in ("crm_id", "crm_owner_id"):
                raise CrmConfigError(
                    f"CRM_FIELD_MAP maps {crm!r} to {local!r}, which is not a text or number field of Lead; "
                    f"use one of: {', '.join(sorted(_mappable_fields()))}."
                )
            if not crm or crm in ALWAYS:
                raise CrmConfigError(f"CRM_FIELD_MAP: {local!r} needs a CRM field other than {', '.join(ALWAYS)}.")
        status_map = {str(k).strip(): str(v).strip() for k, v in settings.CRM_STATUS_MAP.items()}
        wrong = sorted({m for m in status_map.values() if m not in MEANINGS})
        if wrong:
            raise CrmConfigError(f"CRM_STATUS_MAP: unknown meaning(s) {', '.join(wrong)}; use {', '.join(MEANINGS)}.")
        writeback = {str(k).strip(): str(v).strip() for k, v in settings.CRM_WRITEBACK_STATUS.items()}
        unknown = sorted(set(writeback) - {"accept", "reject", "recycle", "convert"})
        if unknown:
            raise CrmConfigError(
                f"CRM_WRITEBACK_STATUS: unknown action(s) {', '.join(unknown)}; use accept, reject, recycle, convert."
            )
        numbers = {
            "CRM_PAGE_SIZE": settings.CRM_PAGE_SIZE,
            "CRM_FETCH_BATCH": settings.CRM_FETCH_BATCH,
            "CRM_DELETED_WINDOW_DAYS": settings.CRM_DELETED_WINDOW_DAYS,
            "CRM_SYNC_LEASE_SECONDS": settings.CRM_SYNC_LEASE_SECONDS,
        }
        for name, value in numbers.items():
            if value <= 0:
                raise CrmConfigError(f"{name} must be a positive number, got {value}.")
        return cls(
            field_map=field_map,
            status_map=status_map,
            writeback_status=writeback,
            reason_field=settings.CRM_REASON_FIELD.strip(),
            page_size=settings.CRM_PAGE_SIZE,
            bulk_threshold=settings.CRM_BULK_THRESHOLD,
            fetch_batch=settings.CRM_FETCH_BATCH,
            deleted_window=timedelta(days=settings.CRM_DELETED_WINDOW_DAYS),
            lease_seconds=settings.CRM_SYNC_LEASE_SECONDS,
        )

    @functools.cached_property
    def crm_fields(self) -> list[str]:
        """Every Lead field the sync reads, in a stable order (asked once per record: computed once)."""
        return list(dict.fromkeys([*ALWAYS, *self.field_map.values()]))

    @functools.cached_property
    def mapped_columns(self) -> list[tuple[str, str, int | None]]:
        """(Lead field, CRM field, max length) per mapped field; no max length for a number field."""
        plan = []
        for local, crm in self.field_map.items():
            model_field = Lead._meta.get_field(local)
            plan.append((local, crm, None if isinstance(model_field, models.FloatField) else model_field.max_length))
        return plan

    @property
    def update_fields(self) -> list[str]:
        return [*self.field_map, *SYNCED_FIXED]

    def check_statuses(self, statuses: Sequence[str]) -> None:
        """Every CRM status must have a meaning, every write-back status must exist in the CRM."""
        unmapped = [s for s in statuses if s not in self.status_map]
        if unmapped:
            raise CrmConfigError(
                f"CRM_STATUS_MAP has no meaning for the CRM status(es) {', '.join(map(repr, unmapped))}; "
                f"map each to one of {', '.join(MEANINGS)}."
            )
        missing = {a: s for a, s in self.writeback_status.items() if s not in statuses}
        if missing:
            wrong = ", ".join(f"{a}={s!r}" for a, s in missing.items())
            raise CrmConfigError(
                f"CRM_WRITEBACK_STATUS names status(es) the CRM does not have: {wrong}; "
                f"the CRM has {', '.join(map(repr, statuses))}."
            )

    def meaning(self, status: str) -> str | None:
        """What a CRM status means here (open / working / converted / closed), None when unmapped."""
        return self.status_map.get(status)


def _mappable_fields() -> list[str]:
    return [
        f.name
        for f in Lead._meta.get_fields()
        if isinstance(f, models.CharField | models.FloatField) and f.name not in ("crm_id", "crm_owner_id")
    ]


def sync_config() -> SyncConfig:
    return SyncConfig.from_settings()
