"""The dry run: what a pull would create or update, read from the CRM and the mirror without writing anything."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from handoff.crm import get_backend
from handoff.crm.base import CrmBackend
from handoff.models import SyncRun, SyncState

from .config import SOBJECT, sync_config
from .mapping import moment
from .pages import Progress, stored_leads


@dataclass
class SyncPreview:
    """What a run would do, read without writing anything."""

    kind: str
    watermark: datetime | None
    fetched: int = 0
    would_create: int = 0
    would_update: int = 0
    unchanged: int = 0


def sync_preview(
    *, full: bool = False, backend: CrmBackend | None = None, progress: Progress | None = None
) -> SyncPreview:
    """A dry run: read the changes a pull would apply and classify them against the mirror; writes nothing."""
    config = sync_config()
    backend = backend or get_backend()
    state = SyncState.objects.filter(sobject=SOBJECT).first()
    since = None if full or state is None else state.watermark
    backend.check(config.crm_fields)
    config.check_statuses(backend.lead_statuses())
    preview = SyncPreview(kind=SyncRun.Kind.FULL if since is None else SyncRun.Kind.INCREMENTAL, watermark=since)
    if since is None and progress is not None:
        progress.total = backend.count_leads()
    for page in backend.iter_changed(since, ["Id", "SystemModstamp"], config.page_size):
        stored = stored_leads([r["Id"] for r in page])
        for record in page:
            local = stored.get(record["Id"])
            if local is None:
                preview.would_create += 1
            elif local["is_deleted"] or local["crm_modified_at"] != moment(record["SystemModstamp"]):
                preview.would_update += 1
            else:
                preview.unchanged += 1
        preview.fetched += len(page)
        if progress is not None:
            progress.update(len(page))
    return preview
