"""Tasks of the CRM sync: the incremental pull, the nightly reconcile and the write-back flush."""
from celery import shared_task

from handoff.crm.base import CrmUnavailable
from handoff.models import SyncRun
from handoff.services.sync import SyncBusy, sync_run
from handoff.services.writeback import FLUSH_TASK, writeback_flush


@shared_task(name="handoff.sync_pull", acks_late=True, ignore_result=True)
def sync_pull() -> int | None:
    """Pull what changed in the CRM since the watermark (the first run imports the org).

    A run already in progress makes this one a no-op; a failed run is simply resumed by the next beat.
    Returns the SyncRun id, None when skipped.
    """
    try:
        return sync_run(kind=SyncRun.Kind.INCREMENTAL).pk
    except SyncBusy:
        return None


@shared_task(name="handoff.sync_reconcile", acks_late=True, ignore_result=True)
def sync_reconcile() -> int | None:
    """Compare every CRM lead id and SystemModstamp with the mirror; fetch the stale, tombstone the gone."""
    try:
        return sync_run(kind=SyncRun.Kind.RECONCILE).pk
    except SyncBusy:
        return None


@shared_task(
    name=FLUSH_TASK,
    acks_late=True,
    ignore_result=True,
    autoretry_for=(CrmUnavailable,),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
)
def writeback_flush_task() -> int:
    """Send due write-back rows to the CRM; rows that failed wait for their backoff. Returns the number sent."""
    return writeback_flush().sent
