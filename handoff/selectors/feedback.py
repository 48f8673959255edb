"""Reading sales feedback: who sees which requests, what a rep still has to rate, the terms that ask, the digest.

The lead quality report marketing reads is in `selectors/quality.py`.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from handoff.db import compiled_once
from handoff.models import (
    BusinessCalendar,
    FeedbackOutcome,
    FeedbackPoint,
    FeedbackRequest,
    HandoffEvent,
    LeadFeedback,
    LeadFeedbackRevision,
    Milestone,
    MilestoneKind,
    ReasonCode,
    RepProfile,
    Role,
    SlaPolicy,
)

from .people import user_roles


def feedback_requests_visible_to(user: AbstractBaseUser) -> QuerySet[FeedbackRequest]:
    """Marketers and admins read every request; managers their team's reps'; reps their own."""
    base = FeedbackRequest.objects.select_related(
        "handoff__lead", "rater", "reject_reason", "definition", "policy", "feedback"
    )
    visible = _visible(user.pk, *_visibility(user))
    return base if visible is None else base.filter(visible)


def _visibility(user: AbstractBaseUser) -> tuple[bool, bool, bool]:
    """What decides which requests the user reads: (reads all, manages a team, rates leads)."""
    roles = user_roles(user)
    return (user.is_staff or Role.MARKETER in roles, Role.MANAGER in roles, Role.SALES_REP in roles)


def _visible(user_id: int, reads_all: bool, manages: bool, rates: bool) -> Q | None:
    """The requests a user with that `_visibility` reads (None: all)."""
    if reads_all:
        return None
    visible = Q(pk__in=[])
    if manages:
        visible |= Q(rater__profile__team__manager_id=user_id)
    if rates:
        visible |= Q(rater_id=user_id)
    return visible


def with_feedback_detail(requests: QuerySet[FeedbackRequest]) -> QuerySet[FeedbackRequest]:
    """The feedback's reasons and its history, for pages and API answers that show them (two queries a page)."""
    revisions = LeadFeedbackRevision.objects.select_related("by").order_by("revision")
    return requests.prefetch_related(
        "feedback__reasons", Prefetch("feedback__revisions", queryset=revisions)
    )


def feedback_to_give(user: AbstractBaseUser) -> QuerySet[FeedbackRequest]:
    """What the rep still has to rate, oldest question first."""
    return with_feedback_detail(
        FeedbackRequest.objects.filter(rater=user, outcome=FeedbackOutcome.PENDING)
        .select_related("handoff__lead", "reject_reason", "feedback")
        .order_by("asked_at", "id")
    )


_PENDING_CACHE = "_handoff_feedback_pending"


def feedback_pending_count(user: AbstractBaseUser) -> int:
    """How many leads the rep has yet to rate (the menu's badge): read with the user when the sign-in did
    (`remember_feedback_pending`)."""
    known = getattr(user, _PENDING_CACHE, None)
    if known is not None:
        return known
    return FeedbackRequest.objects.filter(rater=user, outcome=FeedbackOutcome.PENDING).count()


def remember_feedback_pending(user: AbstractBaseUser, count: int) -> None:
    setattr(user, _PENDING_CACHE, count)


def feedback_changeable(user: AbstractBaseUser, now: datetime | None = None) -> QuerySet[FeedbackRequest]:
    """The rep's answered requests whose feedback may still change, most recently changed first."""
    now = now or timezone.now()
    return with_feedback_detail(
        FeedbackRequest.objects.filter(
            rater=user, outcome=FeedbackOutcome.ANSWERED, feedback__given_at__gt=now - change_window()
        )
        .select_related("handoff__lead", "reject_reason", "feedback")
        .order_by("-feedback__changed_at", "-id")
    )


def change_window() -> timedelta:
    return timedelta(days=settings.FEEDBACK_CHANGE_DAYS)


def change_deadline(feedback: LeadFeedback) -> datetime:
    """Until when the feedback may change: the change window from when it was first given."""
    return feedback.given_at + change_window()


def answerable(request: FeedbackRequest, now: datetime | None = None) -> bool:
    """Whether its rater may rate now: a pending request, or feedback still inside its change window."""
    now = now or timezone.now()
    if request.outcome == FeedbackOutcome.PENDING:
        return True
    feedback = getattr(request, "feedback", None)
    return request.outcome == FeedbackOutcome.ANSWERED and feedback is not None and now <= change_deadline(feedback)


def feedback_revision(request: FeedbackRequest) -> int:
    """How many times it was answered: 0 before the first answer (the version a one-click link is made for)."""
    feedback = getattr(request, "feedback", None)
    return feedback.revision if feedback is not None else 0


def feedback_of_lead(lead_id: int, user: AbstractBaseUser) -> list[FeedbackRequest]:
    """The requests about a lead's handoffs that the user may read, in the order of its handoffs, each with its
    feedback (a lead's page; the query compiled once per process for each kind of reader: `compiled_once`)."""
    return compiled_once(_feedback_of_lead, lead_id, user.pk, shape=_visibility(user))


def _feedback_of_lead(lead_id: int, user_id: int, reads_all: bool, manages: bool, rates: bool):
    requests = with_feedback_detail(
        FeedbackRequest.objects.filter(handoff__lead_id=lead_id)
        .select_related("rater", "reject_reason", "feedback", "handoff")
        .order_by("handoff__sequence", "asked_at", "id")
    )
    visible = _visible(user_id, reads_all, manages, rates)
    return requests if visible is None else requests.filter(visible)


def feedback_reasons(*, reject_point: bool = False) -> list[ReasonCode]:
    """The active feedback reasons a rep may give: quality reasons then market signals; only the signals when the
    rep rejected the lead (the reject reason already says what was wrong with it)."""
    reasons = ReasonCode.objects.filter(kind=ReasonCode.Kind.FEEDBACK, is_active=True)
    if reject_point:
        reasons = reasons.filter(is_market_signal=True)
    return list(reasons.order_by("is_market_signal", "label"))


# ---------------------------------------------------------------------------------------------
# What the request job reads
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PolicyPoints:
    """The feedback points one SLA policy version asks at."""

    events: frozenset[str]
    after_accept_days: int | None


def policy_feedback_points() -> tuple[dict[int, PolicyPoints], int | None]:
    """policy id → its feedback points, for every version (older handoffs keep the terms that timed them), and the
    id of the version in force (for handoffs without clocks); one query."""
    found, active = {}, None
    for pk, is_active, reject, days, convert, recycle in SlaPolicy.objects.values_list(
        "pk", "is_active", "feedback_on_reject", "feedback_after_accept_days", "feedback_on_convert",
        "feedback_on_recycle",
    ):
        events = {
            point
            for point, on in (
                (FeedbackPoint.REJECTED, reject),
                (FeedbackPoint.CONVERTED, convert),
                (FeedbackPoint.RECYCLED, recycle),
            )
            if on
        }
        found[pk] = PolicyPoints(frozenset(events), days or None)
        active = pk if is_active else active
    return found, active


def calendar_zones() -> list[tuple[int, str, bool]]:
    """(id, time zone, is the default) of every business calendar."""
    return list(BusinessCalendar.objects.order_by("pk").values_list("pk", "time_zone", "is_default"))


def people_calendars() -> dict[int, int]:
    """user id → the calendar they work by, for everyone with one of their own or their team's (the others work by
    the default calendar)."""
    return {
        user_id: own or team
        for user_id, own, team in RepProfile.objects.filter(
            Q(calendar__isnull=False) | Q(team__calendar__isnull=False)
        ).values_list("user_id", "calendar_id", "team__calendar_id")
    }


def accept_clocks(handoff_ids: Iterable[int]) -> dict[int, tuple[int, str]]:
    """handoff id → (policy id, segment) of its first accept clock (the one its qualification started)."""
    return {
        handoff_id: (policy_id, segment)
        for handoff_id, policy_id, segment in Milestone.objects.filter(
            handoff_id__any=list(handoff_ids), kind=MilestoneKind.ACCEPT, round=1
        ).values_list("handoff_id", "policy_id", "segment")
    }


def last_reject_reasons(handoff_ids: Iterable[int]) -> dict[int, int]:
    """handoff id → the reason of its latest reject (the handoff's own `reason` is the latest reject *or* recycle)."""
    found: dict[int, int] = {}
    for handoff_id, reason_id in (
        HandoffEvent.objects.filter(handoff_id__any=list(handoff_ids), action="reject")
        .order_by("at", "id")
        .values_list("handoff_id", "reason_id")
    ):
        found[handoff_id] = reason_id
    return found


def last_reject_reason(handoff_ref: str) -> Subquery:
    """The reason of the handoff's latest reject (the handoff's own `reason` is the latest reject *or* recycle)."""
    return Subquery(
        HandoffEvent.objects.filter(handoff_id=OuterRef(handoff_ref), action="reject")
        .order_by("-at", "-id")
        .values("reason_id")[:1]
    )


# ---------------------------------------------------------------------------------------------
# The digest
# ---------------------------------------------------------------------------------------------
def digest_requests(rater_days: Iterable[tuple[int, date]]) -> dict[tuple[int, date], list[FeedbackRequest]]:
    """(rater, day) → the requests that day's digest lists and that are still pending, oldest first; one query."""
    wanted = set(rater_days)
    if not wanted:
        return {}
    found: dict[tuple[int, date], list[FeedbackRequest]] = {key: [] for key in wanted}
    rows = (
        FeedbackRequest.objects.filter(
            rater_id__in={rater for rater, _ in wanted},
            last_digest_on__in={day for _, day in wanted},
            outcome=FeedbackOutcome.PENDING,
        )
        # The feedback (none while pending) joined too: a one-click link is made for its version.
        .select_related("handoff__lead", "reject_reason", "feedback")
        .order_by("asked_at", "id")
    )
    for request in rows:
        key = (request.rater_id, request.last_digest_on)
        if key in found:
            found[key].append(request)
    return found
