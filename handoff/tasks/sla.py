"""Tasks of the SLA engine: the breach and reminder scan, and the notice sender."""
from celery import shared_task

from handoff.models.sla import NoticeKind
from handoff.services.notifications import notifications_send
from handoff.services.sla import SCAN_BATCH, sla_scan


@shared_task(name="handoff.sla_scan", acks_late=True, ignore_result=True, time_limit=120, soft_time_limit=100)
def sla_scan_task(limit: int = SCAN_BATCH) -> dict[str, int]:
    """Flag one batch of breached clocks, then one of clocks due a reminder, with their notices.

    limit: clocks per batch. A full batch re-queues the task for the rest (several workers may run it at
    once on PostgreSQL: each takes different rows). Returns the counts flagged.
    """
    counts = {}
    for notice in (NoticeKind.BREACH, NoticeKind.REMINDER):
        counts[str(notice)] = sla_scan(notice=notice, limit=limit).count
    if max(counts.values()) >= limit:
        sla_scan_task.delay(limit)
    return counts


@shared_task(
    name="handoff.sla_send_notifications", acks_late=True, ignore_result=True, time_limit=300, soft_time_limit=280
)
def sla_send_notifications(limit: int = 200) -> int:
    """Deliver due SLA notices (queued after each scan commits, and every minute for retries). Returns sent."""
    result = notifications_send(limit=limit)
    if result.sent + result.retrying + result.failed >= limit:
        sla_send_notifications.delay(limit)
    return result.sent
