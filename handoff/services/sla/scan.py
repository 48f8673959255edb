"""The SLA scan: milestones past their due time (breach) or reminder time flagged, their notifications written.

One set-based statement per batch (PostgreSQL: claimed with FOR UPDATE SKIP LOCKED, so several scanners share
the work), the escalation applied in the same transaction, the sender queued once the batch commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from handoff.models import Milestone, SlaNotification
from handoff.models.sla import RUNNING, NotificationKind

from ..jobs import job_after_commit
from .escalation import sla_escalate

SCAN_BATCH = 10_000  # milestones per scan statement: one sort of the due rows per batch, locks held for ~0.2 s
SEND_TASK = "handoff.sla_send_notifications"


@dataclass
class ScanResult:
    kind: str  # the notification kind: breach or reminder
    flagged: list[tuple[int, int, str]] = field(default_factory=list)  # (milestone id, handoff id, kind)
    requeued: list[int] = field(default_factory=list)  # handoff ids the escalation gave back to the queue
    recycled: list[int] = field(default_factory=list)  # handoff ids the escalation recycled

    @property
    def count(self) -> int:
        return len(self.flagged)


# Each notification kind marks a different column; the selection differs only in which instant must have passed.
_SCANS = {
    NotificationKind.BREACH: {"due": "due_at", "set": "breached_at = m.due_at", "extra": ""},
    NotificationKind.REMINDER: {"due": "remind_at", "set": "reminded_at = %(now)s", "extra": "AND reminded_at IS NULL"},
}


def sla_scan(*, kind: str, now: datetime | None = None, limit: int = SCAN_BATCH) -> ScanResult:
    """Flag up to `limit` running clocks past their due (breach) or reminder time, with their outbox rows.

    PostgreSQL: one statement (data-modifying CTEs) that claims the rows with FOR UPDATE SKIP LOCKED, so
    several scanners share the work without flagging a milestone twice, updates them and inserts the notifications
    (ON CONFLICT DO NOTHING: the unique (handoff, milestone, kind) makes a notification exactly-once). SQLite, which
    serialises writers, selects the batch and updates it set-based in the same transaction. The sender is
    queued after commit.
    """
    now = now or timezone.now()
    result = ScanResult(kind=str(kind))
    with transaction.atomic():
        if connection.vendor == "postgresql":
            result.flagged = _scan_postgresql(kind, now, limit)
        else:
            result.flagged = _scan_plain(kind, now, limit)
        if result.flagged:
            if kind == NotificationKind.BREACH:
                result.requeued, result.recycled = sla_escalate(milestone_ids=[m for m, _, _ in result.flagged], at=now)
            job_after_commit(SEND_TASK)
    return result


def _scan_postgresql(kind: str, now: datetime, limit: int) -> list[tuple[int, int, str]]:
    scan = _SCANS[kind]
    m, n = Milestone._meta.db_table, SlaNotification._meta.db_table
    # Raw SQL on purpose: the ORM cannot express UPDATE … (SELECT … SKIP LOCKED) RETURNING with an INSERT …
    # ON CONFLICT in the same statement, which is what makes the scan one round trip per batch. The claimed
    # rows are addressed by their physical location (ctid): they are locked, so it cannot move, and a TID
    # scan reaches them without a second index lookup per row. The UPDATE repeats the running condition so
    # that, should a clock be met between the claim and the update, PostgreSQL's recheck leaves it alone.
    running = "met_at IS NULL AND breached_at IS NULL AND paused_at IS NULL AND stopped_at IS NULL"
    sql = f"""
        WITH due AS (
            SELECT ctid FROM {m}
            WHERE {scan["due"]} <= %(now)s AND {running} {scan["extra"]}
            ORDER BY {scan["due"]}
            LIMIT %(limit)s
            FOR UPDATE SKIP LOCKED
        ), flagged AS (
            UPDATE {m} AS m SET {scan["set"]}
            WHERE m.ctid = ANY(ARRAY(SELECT ctid FROM due)) AND {running} {scan["extra"]}
            RETURNING m.id, m.handoff_id, m.kind
        ), notices AS (
            INSERT INTO {n} (milestone_id, milestone_kind, kind, status, recipients, attempts, next_attempt_at,
                             last_error, created_at)
            SELECT id, kind, %(notice)s, 'pending', '', 0, %(now)s, '', %(now)s FROM flagged
            ON CONFLICT DO NOTHING
        )
        SELECT id, handoff_id, kind FROM flagged ORDER BY id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"now": now, "limit": limit, "notice": str(kind)})
        return [tuple(row) for row in cursor.fetchall()]


def _scan_plain(kind: str, now: datetime, limit: int) -> list[tuple[int, int, str]]:
    due_field = _SCANS[kind]["due"]
    running = Milestone.objects.filter(RUNNING, **{f"{due_field}__lte": now})
    if kind == NotificationKind.REMINDER:
        running = running.filter(reminded_at__isnull=True)
    flagged = list(running.order_by(due_field).values_list("id", "handoff_id", "kind")[:limit])
    if not flagged:
        return []
    batch = Milestone.objects.filter(pk__any=[row[0] for row in flagged])
    if kind == NotificationKind.BREACH:
        batch.update(breached_at=F("due_at"))
    else:
        batch.update(reminded_at=now)
    SlaNotification.objects.bulk_create(
        [
            SlaNotification(
                milestone_id=pk, milestone_kind=milestone_kind, kind=kind, next_attempt_at=now, created_at=now
            )
            for pk, _handoff_id, milestone_kind in flagged
        ],
        ignore_conflicts=True,
    )
    return sorted(flagged)


def sla_scan_all(*, now: datetime | None = None, limit: int = SCAN_BATCH, max_batches: int = 100) -> dict[str, int]:
    """Breaches then reminders, batch after batch until none is left (or `max_batches`).

    Returns counts: milestones flagged per notification kind, and handoffs the escalation requeued or recycled.
    """
    counts = {"requeued": 0, "recycled": 0}
    for kind in (NotificationKind.BREACH, NotificationKind.REMINDER):
        total = 0
        for _ in range(max_batches):
            result = sla_scan(kind=kind, now=now, limit=limit)
            total += result.count
            counts["requeued"] += len(result.requeued)
            counts["recycled"] += len(result.recycled)
            if result.count < limit:
                break
        counts[str(kind)] = total
    return counts
