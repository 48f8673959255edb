"""CRM write-back: app actions recorded in an outbox in their own transaction, sent to the CRM after commit."""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from handoff.crm import get_backend
from handoff.crm.base import (
    MAX_COLLECTION,
    CrmApiBudgetExhausted,
    CrmBackend,
    CrmConfigError,
    CrmError,
    CrmRateLimited,
)
from handoff.models import Handoff, HandoffEvent, WriteBack
from handoff.models.handoffs import ActorKind

from .actors import Actor
from .handoffs import on_transition
from .jobs import job_after_commit
from .sync.lease import lease_acquire, lease_release

log = logging.getLogger(__name__)

ACTIONS = ("accept", "reject", "recycle", "convert")
REASON_ACTIONS = ("reject", "recycle")
LEASE = "crm-writeback"
FLUSH_TASK = "handoff.writeback_flush"
MAX_BACKOFF = timedelta(hours=6)


def writeback_changes(*, action: str, handoff: Handoff) -> dict:
    """The CRM fields an app action changes on its lead: the mapped status, and the reason where one is given."""
    changes = {}
    status = settings.CRM_WRITEBACK_STATUS.get(action)
    if status:
        changes["Status"] = status
    reason_field = settings.CRM_REASON_FIELD.strip()
    if reason_field and action in REASON_ACTIONS and handoff.reason is not None:
        changes[reason_field] = handoff.reason.label
    return changes


@on_transition
def writeback_record(*, action: str, handoffs: list[Handoff], events: list[HandoffEvent], actor: Actor) -> None:
    """Record what an accept / reject / recycle / convert owes the CRM, and queue sending it after commit.

    Changes that came from the CRM (the sync's own conversions) are not written back, nor history an actor
    replays (`Actor.replaying()`, the demo seed): the CRM already holds where it ended.
    """
    if action not in ACTIONS or actor.kind == ActorKind.SYNC or actor.replay:
        return
    now = timezone.now()
    rows = []
    for handoff, event in zip(handoffs, events, strict=True):
        changes = writeback_changes(action=action, handoff=handoff)
        if changes:
            rows.append(
                WriteBack(lead_id=handoff.lead_id, event=event, action=action, changes=changes, next_attempt_at=now)
            )
    if rows:
        WriteBack.objects.bulk_create(rows)
        # One flush per transaction, however many transitions it holds (a bulk action, a seed, a sync page): the
        # flush sends every due row, so a second task queued by the same transaction would find nothing to do.
        job_after_commit(FLUSH_TASK)


@dataclass
class FlushResult:
    sent: int = 0
    skipped: int = 0
    retrying: int = 0
    failed: int = 0
    superseded: int = 0
    stopped: str = ""


def _backoff(attempts: int) -> timedelta:
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def writeback_flush(
    *, backend: CrmBackend | None = None, limit: int | None = None, now: datetime | None = None
) -> FlushResult:
    """Send due outbox rows to the CRM in sObject Collections of at most 200, and record each outcome.

    Several pending changes of one lead are merged into its latest row (the others are superseded), so a
    lead is written once per flush with its newest values. A converted or deleted lead is skipped for good;
    other failures are retried with exponential backoff and marked failed after CRM_WRITEBACK_MAX_ATTEMPTS.
    A rate limit or the API budget stops the flush and leaves the rest pending. Never runs inside a
    transaction: nothing holds a database lock while Salesforce answers.
    """
    result = FlushResult()
    holder = uuid.uuid4().hex
    if not lease_acquire(name=LEASE, holder=holder, seconds=settings.CRM_SYNC_LEASE_SECONDS):
        result.stopped = "another flush is running"
        return result
    try:
        _flush(backend or get_backend(), limit or settings.CRM_WRITEBACK_BATCH * 5, now, result)
    finally:
        lease_release(name=LEASE, holder=holder)
    return result


def _flush(backend: CrmBackend, limit: int, now: datetime | None, result: FlushResult) -> None:
    now = now or timezone.now()
    due = list(
        WriteBack.objects.filter(status=WriteBack.Status.PENDING, next_attempt_at__lte=now)
        .select_related("lead")
        .order_by("pk")[:limit]
    )
    if not due:
        return
    per_lead: dict[int, list[WriteBack]] = defaultdict(list)
    for row in due:
        per_lead[row.lead_id].append(row)
    latest: list[WriteBack] = []
    superseded: list[WriteBack] = []
    for rows in per_lead.values():
        merged: dict = {}
        for row in rows:
            merged.update(row.changes)
        rows[-1].changes = merged
        latest.append(rows[-1])
        for row in rows[:-1]:
            row.status = WriteBack.Status.SUPERSEDED
            superseded.append(row)
    result.superseded = len(superseded)
    WriteBack.objects.bulk_update(superseded, ["status"])

    reason_field = settings.CRM_REASON_FIELD.strip()
    if reason_field and any(reason_field in row.changes for row in latest):
        try:
            backend.check([reason_field])
        except CrmConfigError:
            # The org has no such field: the status still goes back, the reason stays in the app.
            for row in latest:
                row.changes.pop(reason_field, None)
    size = min(settings.CRM_WRITEBACK_BATCH, MAX_COLLECTION)
    max_attempts = settings.CRM_WRITEBACK_MAX_ATTEMPTS
    try:
        for start in range(0, len(latest), size):
            chunk = latest[start : start + size]
            try:
                outcomes = backend.update_leads([(row.lead.crm_id, row.changes) for row in chunk])
            except (CrmRateLimited, CrmApiBudgetExhausted) as exc:
                result.stopped = str(exc)
                break
            except CrmError as exc:
                for row in chunk:
                    _retry_later(row, "", str(exc), now, max_attempts, result)
                continue
            for row, outcome in zip(chunk, outcomes, strict=True):
                if outcome.ok:
                    row.attempts += 1
                    row.status, row.sent_at, row.error_code, row.error = WriteBack.Status.SENT, now, "", ""
                    result.sent += 1
                elif outcome.skipped:
                    row.attempts += 1
                    row.status = WriteBack.Status.SKIPPED
                    row.error_code, row.error = outcome.error_code or "", outcome.message or ""
                    result.skipped += 1
                else:
                    _retry_later(row, outcome.error_code or "", outcome.message or "", now, max_attempts, result)
    finally:
        # Rows not reached (a stop) stay pending, carrying their merged changes.
        WriteBack.objects.bulk_update(
            latest, ["status", "changes", "attempts", "next_attempt_at", "error_code", "error", "sent_at"]
        )


def _retry_later(
    row: WriteBack, code: str, message: str, now: datetime, max_attempts: int, result: FlushResult
) -> None:
    row.attempts += 1
    row.error_code, row.error = code[:80], message
    if row.attempts >= max_attempts:
        row.status = WriteBack.Status.FAILED
        result.failed += 1
        log.error("CRM write-back of lead %s gave up after %s attempts: %s", row.lead.crm_id, row.attempts, message)
    else:
        row.next_attempt_at = now + _backoff(row.attempts)
        result.retrying += 1
