"""The kinds of run, and `sync_run`, which holds the lease and records each run as a SyncRun.

Incremental (changes since the watermark, then deletions), full (an org's first import, or every lead read again)
and reconcile (every CRM id and SystemModstamp compared with the mirror).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from handoff.crm import get_backend
from handoff.crm.base import CrmApiBudgetExhausted, CrmBackend, CrmRateLimited, CrmReplicationWindowExceeded
from handoff.models import Lead, LeadDefinition, Role, SyncRun, SyncState
from handoff.rules import parse_conditions

from ..sla import crm_statuses_moving_milestones
from .config import SOBJECT, sync_config
from .lease import LEASE, SyncBusy, lease_acquire, lease_release
from .mapping import moment
from .pages import CHUNK, Progress, RunContext, apply_page, chunks, prefetched, stored_leads, tombstone
from .reps import reps_sync_from_crm

log = logging.getLogger(__name__)

# getDeleted covers whole minutes: consecutive windows overlap so a deletion on a boundary is never missed.
DELETES_OVERLAP = timedelta(minutes=2)
# Rows of a Bulk 2.0 page applied per transaction: bounds memory and keeps each commit short.
BULK_APPLY = 10_000


def _import(ctx: RunContext, state: SyncState) -> None:
    """Read every lead: through Bulk 2.0 for a large org, else the ordered REST cursor."""
    started = timezone.now()
    total = ctx.backend.count_leads()
    if ctx.progress is not None:
        ctx.progress.total = total
    if total > ctx.config.bulk_threshold:
        ctx.run.used_bulk = True
        newest = state.watermark
        for page in prefetched(ctx.backend.iter_all_bulk(ctx.config.crm_fields, include_deleted=False)):
            for part in chunks(page, BULK_APPLY):
                apply_page(ctx, list(part))
            newest = max(filter(None, [newest, *(moment(r["SystemModstamp"]) for r in page)]), default=None)
        # Bulk pages come unordered: the watermark may only move once every page is in.
        with transaction.atomic():
            SyncState.objects.filter(sobject=SOBJECT).update(watermark=newest)
            ctx.run.watermark_after = newest
            ctx.run.save()
    else:
        for page in ctx.backend.iter_changed(None, ctx.config.crm_fields, ctx.config.page_size):
            if page:
                apply_page(ctx, page, watermark=moment(page[-1]["SystemModstamp"]))
    if state.deletes_checked_until is None:
        # What was deleted before the import was never read; later deletions are the next pull's.
        SyncState.objects.filter(sobject=SOBJECT).update(deletes_checked_until=started - DELETES_OVERLAP)


def _pull(ctx: RunContext, state: SyncState) -> None:
    """Read changes since the watermark through queryAll: deletions still in the recycle bin come in order with the
    updates and land in the same page; getDeleted (`_pull_deletes`) is left with the rows purged from the bin."""
    pages = ctx.backend.iter_changed(state.watermark, ctx.config.crm_fields, ctx.config.page_size, include_deleted=True)
    for page in pages:
        if page:
            apply_page(ctx, page, watermark=moment(page[-1]["SystemModstamp"]))


def _pull_deletes(ctx: RunContext, state: SyncState) -> bool:
    """Apply getDeleted since the last check; False when the CRM no longer reaches back that far.

    The pull's queryAll already brought the deletions still in the recycle bin; this catches those purged from
    it (or hard-deleted) before the pull saw them. Deletions already applied are skipped by `tombstone`.
    """
    end = timezone.now()
    start = state.deletes_checked_until or (end - DELETES_OVERLAP)
    if start < end - ctx.config.deleted_window:
        return False
    try:
        deleted = ctx.backend.deleted_since(start, end)
    except CrmReplicationWindowExceeded:
        return False
    tombstone(ctx, {crm_id: moment(at) for crm_id, at in deleted})
    SyncState.objects.filter(sobject=SOBJECT).update(deletes_checked_until=end - DELETES_OVERLAP)
    return True


def _reconcile(ctx: RunContext) -> None:
    """Compare every CRM id and SystemModstamp with the local mirror; fetch what differs, tombstone what is gone."""
    started = timezone.now()
    if ctx.progress is not None:
        ctx.progress.total = ctx.backend.count_leads()
    seen: set[str] = set()
    fields = ctx.config.crm_fields
    for page in ctx.backend.iter_all_bulk(["Id", "SystemModstamp", "IsDeleted"], include_deleted=True):
        stored = stored_leads([r["Id"] for r in page])
        stale, gone = [], {}
        for row in page:
            crm_id = row["Id"]
            seen.add(crm_id)
            local = stored.get(crm_id)
            if row.get("IsDeleted"):
                if local is not None and not local["is_deleted"]:
                    gone[crm_id] = None
            elif local is None or local["is_deleted"] or local["crm_modified_at"] != moment(row["SystemModstamp"]):
                stale.append(crm_id)
        for chunk in chunks(stale, ctx.config.fetch_batch):
            apply_page(ctx, ctx.backend.fetch_by_ids(list(chunk), fields))
        tombstone(ctx, gone)
        if ctx.progress is not None:
            ctx.progress.update(len(page) - len(stale))
    # Purged from the recycle bin: no longer even in queryAll.
    purged: dict[str, datetime | None] = {}
    for crm_id in Lead.objects.filter(is_deleted=False).values_list("crm_id", flat=True).iterator(chunk_size=CHUNK):
        if crm_id not in seen:
            purged[crm_id] = None
    tombstone(ctx, purged)
    SyncState.objects.filter(sobject=SOBJECT).update(
        deletes_checked_until=started - DELETES_OVERLAP, last_reconcile_at=timezone.now()
    )


def _rule_fields() -> list[str]:
    definition = LeadDefinition.objects.filter(is_active=True).first()
    if definition is None:
        return []
    return sorted({c.field for c in parse_conditions(definition.conditions)})


def _state() -> SyncState:
    state, _ = SyncState.objects.get_or_create(sobject=SOBJECT)
    return state


def sync_run(
    *, kind: str = SyncRun.Kind.INCREMENTAL, backend: CrmBackend | None = None, progress: Progress | None = None
) -> SyncRun:
    """Run the sync once, holding the lease, and record it as a SyncRun.

    kind: incremental (changes since the watermark and deletes; the first run of an org imports it),
    full (read every lead again; unchanged rows are skipped) or reconcile (compare every id and
    SystemModstamp). Pages are committed as they arrive, so a run that fails keeps what it committed and
    the next run resumes from the watermark. A rate limit or the API budget stops a run without failing it.
    Raises SyncBusy when another sync runs, and re-raises any other failure after recording it.
    """
    config = sync_config()
    backend = backend or get_backend()
    holder = uuid.uuid4().hex
    if not lease_acquire(name=LEASE, holder=holder, seconds=config.lease_seconds):
        raise SyncBusy("Another CRM sync is running; try again when it has finished.")
    state = _state()
    if kind == SyncRun.Kind.INCREMENTAL and state.watermark is None:
        kind = SyncRun.Kind.FULL
    run = SyncRun.objects.create(kind=kind, started_at=timezone.now(), watermark_before=state.watermark)
    ctx = RunContext(backend=backend, config=config, run=run, holder=holder, progress=progress)
    if state.watermark is None and settings.CRM_IMPORT_QUALIFY_DAYS:
        # Years of history are mirrored, not handed to sales: an MQL from 2019 would only breach its SLA at once.
        ctx.qualify_since = run.started_at - timedelta(days=settings.CRM_IMPORT_QUALIFY_DAYS)
    calls_before = backend.api_calls
    try:
        backend.check(config.crm_fields)
        config.check_statuses(backend.lead_statuses())
        ctx.owners = reps_sync_from_crm(users=backend.users())
        ctx.reps = set(
            User.objects.filter(pk__in=list(ctx.owners.values()), groups__name=Role.SALES_REP).values_list(
                "pk", flat=True
            )
        )
        ctx.rule_fields = _rule_fields()
        ctx.crm_statuses_moving_milestones = crm_statuses_moving_milestones()
        if kind == SyncRun.Kind.RECONCILE:
            _reconcile(ctx)
        elif kind == SyncRun.Kind.FULL:
            _import(ctx, state)
        else:
            _pull(ctx, state)
            if not _pull_deletes(ctx, _state()):
                log.warning("getDeleted cannot reach back to the last check; reconciling instead.")
                run.kind = SyncRun.Kind.RECONCILE
                _reconcile(ctx)
        run.outcome = SyncRun.Outcome.SUCCEEDED
        SyncState.objects.filter(sobject=SOBJECT).update(last_success_at=timezone.now())
    except (CrmRateLimited, CrmApiBudgetExhausted) as exc:
        run.outcome, run.error = SyncRun.Outcome.STOPPED, str(exc)
    except BaseException as exc:
        run.outcome, run.error = SyncRun.Outcome.FAILED, f"{type(exc).__name__}: {exc}"
        raise
    finally:
        run.finished_at = timezone.now()
        run.api_calls = max(backend.api_calls - calls_before, 0)
        usage = backend.api_usage()
        if usage is not None:
            run.api_used, run.api_limit = usage
        run.save()
        lease_release(name=LEASE, holder=holder)
    return run
