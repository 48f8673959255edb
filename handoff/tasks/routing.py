"""Tasks of routing: the periodic retry of the team queues, and the sender of the queue notices to managers."""
from celery import shared_task

from handoff.services.routing import routing_notices_send, routing_queue_retry


@shared_task(name="handoff.routing_pass", acks_late=True, ignore_result=True, time_limit=300, soft_time_limit=280)
def routing_pass_task() -> dict[str, int]:
    """Try again every lead waiting in a team queue (in batches; two workers at once split them). Returns counts."""
    result = routing_queue_retry()
    return {"routed": len(result.routed), "waiting": len(result.queued), "passed_over": result.passed_over}


@shared_task(
    name="handoff.routing_notices_send", acks_late=True, ignore_result=True, time_limit=300, soft_time_limit=280
)
def routing_notices_send_task(limit: int = 200) -> int:
    """Deliver due queue notices to managers (queued after a pass commits, and every minute for retries)."""
    result = routing_notices_send(limit=limit)
    if result.sent + result.retrying + result.failed >= limit:
        routing_notices_send_task.delay(limit)
    return result.sent
