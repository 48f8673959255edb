"""The team queues: retried by the periodic routing pass; the SLA escalation gives leads back to them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.utils import timezone

from handoff.selectors.routing import queued_handoff_ids

from .assign import RouteResult, handoffs_route

ROUTING_BATCH = 1000


def routing_queue_retry(*, at: datetime | None = None, batch: int = ROUTING_BATCH, limit: int = 20_000) -> RouteResult:
    """Try again every lead waiting in a team queue, oldest first, `batch` per transaction (idempotent).

    A lead another pass holds is left to it (SKIP LOCKED); one still nobody can take stays, without a new notice.
    """
    at = at or timezone.now()
    total = RouteResult()
    ids = queued_handoff_ids(limit=limit)
    for start in range(0, len(ids), batch):
        done = handoffs_route(handoff_ids=ids[start : start + batch], at=at)
        total.routed.update(done.routed)
        total.queued += done.queued
        total.passed_over += done.passed_over
    return total


def routing_requeue(*, breached_by: dict[int, int], at: datetime | None = None) -> RouteResult:
    """Route again leads the SLA escalation gave back to the queue; the rep who breached each is skipped for good.

    `breached_by`: handoff id → the rep who held it. Runs in the escalation's transaction.
    """
    ids: Sequence[int] = sorted(breached_by)
    return handoffs_route(handoff_ids=ids, at=at, exclude={pk: [rep] for pk, rep in breached_by.items()})
