"""Tasks of sales feedback on lead quality: the request job, the daily digest and its sender."""
from celery import shared_task

from handoff.services.feedback import feedback_digests_create, feedback_digests_send, feedback_requests_create


@shared_task(name="handoff.feedback_request", acks_late=True, ignore_result=True, time_limit=600, soft_time_limit=540)
def feedback_request() -> dict[str, int]:
    """Ask for feedback on the handoffs that reached a feedback point of their SLA policy (every 15 minutes, and
    after a transition that reached one commits). Idempotent; several may run at once. Returns what it did."""
    result = feedback_requests_create()
    return {"created": result.created, "points_read": result.points_read, "accept_ranges": result.accept_ranges}


@shared_task(name="handoff.feedback_digest", acks_late=True, ignore_result=True, time_limit=600, soft_time_limit=540)
def feedback_digest() -> dict[str, int]:
    """Write the day's digest of every rep whose 09:00 (FEEDBACK_DIGEST_TIME, their zone) has come, on their
    working days, at most one per rep and day; the sender is queued after commit. Returns the counts."""
    result = feedback_digests_create()
    return {"made": result.made, "listed": result.listed, "expired": result.expired, "withdrawn": result.withdrawn}


@shared_task(
    name="handoff.feedback_send_digests", acks_late=True, ignore_result=True, time_limit=300, soft_time_limit=280
)
def feedback_send_digests(limit: int = 200) -> int:
    """Deliver due digests (limit: rows per run; a full run re-queues itself), retrying failures. Returns sent."""
    result = feedback_digests_send(limit=limit)
    if result.sent + result.retrying + result.failed >= limit:
        feedback_send_digests.delay(limit)
    return result.sent
