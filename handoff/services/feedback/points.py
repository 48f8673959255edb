"""Feedback points reached by a transition: noted in its transaction by a state-machine listener; requests
withdrawn when a handoff moves on."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from handoff.db import insert_rows
from handoff.models import (
    FeedbackOutcome,
    FeedbackPoint,
    FeedbackPointReached,
    FeedbackRequest,
    Handoff,
    HandoffEvent,
    HandoffState,
)
from handoff.selectors.feedback import (
    accept_clocks,
    last_reject_reasons,
)

from ..actors import Actor
from ..handoffs import on_transition
from ..jobs import job_after_commit
from .constants import _POINT_OF_ACTION, REQUEST_TASK
from .requests import _TALLIED
from .tallies import _groups, _tally

log = logging.getLogger(__name__)


@on_transition
def feedback_points_on_transition(
    *, action: str, handoffs: list[Handoff], events: list[HandoffEvent], actor: Actor
) -> None:
    """Note the handoffs a transition brought to a feedback point, for the request job (queued after commit).

    The rater is the owner at that moment. A lead recycled before its rep accepted or rejected it (the SLA
    escalation's) was never judged by anyone, so nobody is asked. A handoff closed because its lead was deleted in
    the CRM has nothing left to rate: what it was asked is withdrawn.
    """
    if action == "close":
        ids = [h.pk for h in handoffs]
        # Points not asked about yet are dropped first: this waits for a request job holding them, so the
        # withdrawal below also sees the requests that job added.
        FeedbackPointReached.objects.filter(handoff_id__any=ids).delete()
        feedback_requests_withdraw(handoff_ids=ids, at=events[0].at if events else None)
        return
    point = _POINT_OF_ACTION.get(action)
    if point is None:
        return
    reached = [
        (handoff, event)
        for handoff, event in zip(handoffs, events, strict=True)
        if handoff.owner_id is not None
        and (point != FeedbackPoint.RECYCLED or handoff.accepted_at is not None or handoff.rejected_at is not None)
    ]
    if not reached:
        return
    ids = [handoff.pk for handoff, _ in reached]
    clocks = accept_clocks(ids)
    rejected = last_reject_reasons(
        [h.pk for h, _ in reached if h.rejected_at is not None and h.state != HandoffState.REJECTED]
    )
    insert_rows(
        FeedbackPointReached,
        [
            {
                "handoff_id": handoff.pk,
                "rater_id": handoff.owner_id,
                "point": point,
                "reached_at": event.at,
                "definition_id": handoff.definition_id,
                "policy_id": clocks.get(handoff.pk, (None, ""))[0],
                "qualified_at": handoff.qualified_at,
                "lead_source": handoff.lead.lead_source,
                "segment": clocks.get(handoff.pk, (None, ""))[1],
                # Just rejected: the handoff's reason is the reject's; rejected before, its reject event says.
                "reject_reason_id": handoff.reason_id
                if handoff.state == HandoffState.REJECTED
                else rejected.get(handoff.pk),
            }
            for handoff, event in reached
        ],
    )
    job_after_commit(REQUEST_TASK)


def feedback_requests_withdraw(
    *, handoff_ids: Sequence[int] | None = None, rater_ids: Sequence[int] | None = None, at: datetime | None = None
) -> int:
    """Withdraw the pending requests about these handoffs, or to these people (no longer counted anywhere)."""
    pending = FeedbackRequest.objects.filter(outcome=FeedbackOutcome.PENDING)
    if handoff_ids is not None:
        pending = pending.filter(handoff_id__any=list(handoff_ids)) if handoff_ids else pending.none()
    if rater_ids is not None:
        pending = pending.filter(rater_id__any=list(rater_ids)) if rater_ids else pending.none()
    return _conclude(pending, FeedbackOutcome.WITHDRAWN, at or timezone.now())


def _conclude(pending, outcome: str, at: datetime) -> int:
    """End these pending requests with `outcome` (expired, withdrawn), their tallies in the same transaction."""
    with transaction.atomic():
        rows = list(pending.select_for_update(of=("self",)).values_list("pk", *_TALLIED))
        if not rows:
            return 0
        FeedbackRequest.objects.filter(pk__any=[row[0] for row in rows]).update(outcome=outcome, outcome_at=at)
        counted = outcome != FeedbackOutcome.WITHDRAWN  # a withdrawn request is not counted at all
        groups = _groups(row[1:] for row in rows)
        # A withdrawn request's reject reason no longer counts either.
        rejects = [(group, row[5], -1) for group, row in zip(groups, rows, strict=True) if row[5] is not None]
        _tally(
            [(group, {"pending": -1, **({outcome: 1} if counted else {})}) for group in groups],
            [] if counted else rejects,
        )
    return len(rows)
