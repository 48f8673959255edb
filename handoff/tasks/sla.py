"""Tasks of the SLA engine: the breach and reminder scan, and the notification sender."""
from celery import shared_task

from handoff.models.sla import NotificationKind
from handoff.services.notifications import notifications_send
from handoff.services.sla import SCAN_BATCH, sla_scan

# A backlog is worked through by re-queued runs, at most this many after the beat's run: a backlog bigger than
# that (a scanner down for days) is left to the next beat runs rather than re-queued without end.
SCAN_REQUEUES = 20


@shared_task(name="handoff.sla_scan", acks_late=True, ignore_result=True, time_limit=120, soft_time_limit=100)
def sla_scan_task(limit: int = SCAN_BATCH, requeue: int = 0) -> dict[str, int]:
    """Flag one batch of breached milestones, then one of milestones due a reminder, with their notifications.

    limit: milestones per batch. requeue: how many runs re-queued this one in a row (0 for the beat's). A full
    batch re-queues the task for the rest, up to SCAN_REQUEUES times (several workers may run it at once on
    PostgreSQL: each takes different rows). Returns the counts flagged.
    """
    counts = {}
    for kind in (NotificationKind.BREACH, NotificationKind.REMINDER):
        counts[str(kind)] = sla_scan(kind=kind, limit=limit).count
    if max(counts.values()) >= limit and requeue < SCAN_REQUEUES:
        sla_scan_task.delay(limit, requeue + 1)
    return counts


@shared_task(
    name="handoff.sla_send_notifications", acks_late=True, ignore_result=True, time_limit=300, soft_time_limit=280
)
def sla_send_notifications(limit: int = 200) -> int:
    """Deliver due SLA notifications (queued after each scan commits, and every minute for retries). Returns sent."""
    result = notifications_send(limit=limit)
    if result.sent + result.retrying + result.failed >= limit:
        sla_send_notifications.delay(limit)
    return result.sent
