"""Sales feedback on lead quality: ask (the request job), remind (the daily digest), answer (a rating and reasons).

- Feedback points, per SLA policy version: a handoff rejected, converted or recycled is noted by a listener of the
  state machine, in the transition's transaction; one accepted N business days ago (in its owner's calendar) is
  found as time passes. The request job (`feedback_requests_create`) turns both into requests set-based, one
  `INSERT … SELECT … ON CONFLICT DO NOTHING` per batch: a re-run, or a second worker at the same time, adds nothing.
- The digest (`feedback_digests_create`): one per rep and local working day, from FEEDBACK_DIGEST_TIME in the rep's
  own zone, listing every pending request; a request listed in FEEDBACK_DIGEST_REPEATS digests expires at the next.
  Written to an outbox and delivered after commit by the sender SLA notices use (`feedback_digests_send`).
- An answer (`lead_feedback_give`) comes from the rater only, while the request is pending or the feedback inside
  its change window; every version is kept.
- One-click links carry a signed, expiring token bound to the request, the rater, the rating and the feedback
  version it was made for (`feedback_link_token`, `feedback_link_read`).
"""
from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    Count,
    DateTimeField,
    F,
    FilteredRelation,
    IntegerField,
    Q,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from handoff import businesstime
from handoff.db import insert_from_select, insert_rows, upsert_add
from handoff.exceptions import InvalidInput, NotAllowed, WrongState
from handoff.models import (
    FeedbackDigest,
    FeedbackOutcome,
    FeedbackPoint,
    FeedbackPointReached,
    FeedbackReasonTally,
    FeedbackRequest,
    FeedbackScan,
    FeedbackTally,
    Handoff,
    HandoffEvent,
    HandoffState,
    LeadFeedback,
    LeadFeedbackRevision,
    MilestoneKind,
    ReasonCode,
)
from handoff.models.feedback import NOTE_MAX_LENGTH, RATING_LABELS, RATING_MAX, RATING_MIN, Via
from handoff.selectors.calendars import calendars_load, owner_calendar_ids
from handoff.selectors.feedback import (
    PolicyPoints,
    accept_clocks,
    calendar_zones,
    change_deadline,
    digest_requests,
    feedback_revision,
    last_reject_reason,
    last_reject_reasons,
    policy_feedback_points,
)
from handoff.selectors.quality import report_zone

from .actors import Actor
from .handoffs import on_transition
from .jobs import job_after_commit
from .notifications import Message, SendResult, outbox_send

log = logging.getLogger(__name__)

REQUEST_TASK = "handoff.feedback_request"
SEND_TASK = "handoff.feedback_send_digests"
REQUEST_BATCH = 10_000  # reached points turned into requests per statement
DIGEST_WINDOW = timedelta(hours=3)  # from FEEDBACK_DIGEST_TIME: when a rep's digest of the day may be written
MAX_REASONS = 10
LINK_SALT = "handoff.feedback.one-click-rating"

_POINT_OF_ACTION = {
    "reject": FeedbackPoint.REJECTED,
    "convert": FeedbackPoint.CONVERTED,
    "recycle": FeedbackPoint.RECYCLED,
}


# ---------------------------------------------------------------------------------------------
# Feedback points reached by a transition
# ---------------------------------------------------------------------------------------------
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
        _tally([(group, {"pending": -1, **({outcome: 1} if counted else {})}) for group in groups],
               [] if counted else rejects)
    return len(rows)


# ---------------------------------------------------------------------------------------------
# The request job
# ---------------------------------------------------------------------------------------------
@dataclass
class RequestsResult:
    created: int = 0
    points_read: int = 0  # reached event points consumed from the queue
    accept_ranges: int = 0  # (calendar, N) ranges of acceptance times looked at


def feedback_requests_create(*, now: datetime | None = None, batch: int = REQUEST_BATCH) -> RequestsResult:
    """Ask for feedback on every handoff that reached a feedback point of its SLA policy and was not asked yet.

    Idempotent, and safe with several workers at once: reached points are claimed with SKIP LOCKED, each
    (calendar, N) range of acceptance times under a lock its scan row holds, and every insert skips an existing
    (handoff, rater) request.
    """
    now = now or timezone.now()
    points, active = policy_feedback_points()
    result = RequestsResult()
    _requests_for_reached_points(result, now=now, points=points, active=active, batch=batch)
    _requests_after_accept(result, now=now, points=points, active=active)
    return result


_COLUMNS = (
    "handoff_id", "rater_id", "point", "point_at", "asked_at", "policy_id", "definition_id", "qualified_at",
    "lead_source", "segment", "reject_reason_id", "digests", "outcome",
)
_ALIASES = {name: f"new_{name}" for name in _COLUMNS}


def _new_request(now: datetime, **values) -> dict[str, object]:
    """The new request's columns, aliased for `insert_from_select`: `values` give what it copies."""
    values |= {
        "asked_at": Value(now, output_field=DateTimeField()),
        "digests": Value(0, output_field=IntegerField()),
        "outcome": Value(FeedbackOutcome.PENDING.value, output_field=CharField()),
    }
    return {_ALIASES[name]: expression for name, expression in values.items()}


def _request_values(*, now: datetime, active: int | None, point_at) -> dict[str, object]:
    """A handoff's request at the accepted point, as expressions over the handoff (`clock`: its accept clock)."""
    id_field = BigIntegerField()
    return _new_request(
        now,
        handoff_id=F("id"),
        rater_id=F("owner_id"),
        point=Value(FeedbackPoint.ACCEPTED.value, output_field=CharField()),
        point_at=point_at,
        # The policy that timed the handoff; a handoff without clocks is asked as the policy in force says.
        policy_id=Coalesce("clock__policy_id", Value(active, output_field=id_field), output_field=id_field),
        definition_id=F("definition_id"),
        qualified_at=F("qualified_at"),
        lead_source=F("lead__lead_source"),
        segment=Coalesce("clock__segment", Value(""), output_field=CharField()),
        # Accepted again after a dispute overturned a reject: the reject event says why it was rejected then.
        reject_reason_id=Case(
            When(rejected_at__isnull=False, then=last_reject_reason("id")),
            default=Value(None, output_field=id_field),
            output_field=id_field,
        ),
    )


def _with_accept_clock(queryset):
    """Join each handoff's first accept clock (its policy and segment) once, instead of a lookup per row."""
    return queryset.alias(
        clock=FilteredRelation("milestones", condition=Q(milestones__kind=MilestoneKind.ACCEPT, milestones__round=1))
    )


_TALLIED = ("qualified_at", "lead_source", "segment", "definition_id", "reject_reason_id")


def _insert_requests(source) -> int:
    """Insert the requests `source` selects (an existing one is skipped), with their tallies; how many were new."""
    added = insert_from_select(
        FeedbackRequest, source, _ALIASES, unique=("handoff", "rater"), returning=_TALLIED
    )
    groups = _groups(added)
    _tally(
        [(group, {"pending": 1}) for group in groups],
        [(group, row[4], 1) for group, row in zip(groups, added, strict=True) if row[4] is not None],
    )
    return len(added)


def _requests_for_reached_points(
    result: RequestsResult, *, now: datetime, points: dict[int, PolicyPoints], active: int | None, batch: int
) -> None:
    asks = Q()
    for policy_id, policy in points.items():
        if policy.events:
            asks |= Q(new_policy_id=policy_id, point__in=sorted(policy.events))
    reached = FeedbackPointReached.objects.filter(reached_at__lte=now)
    if not reached.exists():  # the usual case: no lock, no transaction
        return
    while True:
        with transaction.atomic():
            ids = list(
                reached.select_for_update(skip_locked=True).order_by("pk").values_list("pk", flat=True)[:batch]
            )
            if not ids:
                return
            if asks:  # no policy asks at any event point: the points are simply used up
                id_field = BigIntegerField()
                copied = {
                    name: F(name)
                    for name in ("handoff_id", "rater_id", "point", "definition_id", "qualified_at", "lead_source",
                                 "segment", "reject_reason_id")
                }
                source = (
                    FeedbackPointReached.objects.filter(pk__any=ids, rater__is_active=True)
                    .annotate(
                        **_new_request(
                            now,
                            point_at=F("reached_at"),
                            # An unclocked handoff is asked as the policy in force says.
                            policy_id=Coalesce("policy_id", Value(active, output_field=id_field),
                                               output_field=id_field),
                            **copied,
                        )
                    )
                    .filter(asks)
                    # The earliest point of a handoff wins; the same order in every worker.
                    .order_by("handoff_id", "reached_at", "pk")
                )
                result.created += _insert_requests(source)
            FeedbackPointReached.objects.filter(pk__any=ids).delete()
            result.points_read += len(ids)
        if len(ids) < batch:
            return


def accept_cutoff(moment: datetime, days: int, cal: businesstime.Calendar) -> datetime:
    """Handoffs accepted before this instant were accepted `days` business days ago or more by `moment`.

    The point is reached at the start of the `days`-th working day after the day of acceptance (local dates of
    the calendar), so everything accepted that day is asked about together, in the morning digest.
    """
    today = moment.astimezone(cal.tz).date()
    return businesstime.day_start(businesstime.working_day_back(today, days, cal), cal)


def _reached_at(lo: datetime, hi: datetime, days: int, cal: businesstime.Calendar, path: str) -> Case:
    """When each handoff accepted in [lo, hi) reached the point: the start of the N-th working day after."""
    whens = []
    day, last = lo.astimezone(cal.tz).date(), (hi - timedelta(microseconds=1)).astimezone(cal.tz).date()
    while day <= last:
        start, end = businesstime.day_start(day, cal), businesstime.day_start(day + timedelta(days=1), cal)
        reached = businesstime.day_start(businesstime.working_day_after(day, days, cal), cal)
        whens.append(When(**{f"{path}__gte": start, f"{path}__lt": end}, then=Value(reached)))
        day += timedelta(days=1)
    return Case(*whens, default=Value(None), output_field=DateTimeField())


def _requests_after_accept(
    result: RequestsResult, *, now: datetime, points: dict[int, PolicyPoints], active: int | None
) -> None:
    policies_by_days: dict[int, list[int]] = defaultdict(list)
    for policy_id, policy in points.items():
        if policy.after_accept_days:
            policies_by_days[policy.after_accept_days].append(policy_id)
    if not policies_by_days:
        return
    calendars = calendar_zones()
    scans = {(s.calendar_id, s.business_days): s for s in FeedbackScan.objects.all()}
    # The cut-off only moves when a calendar's local date changes: a run later the same day has nothing to do.
    due = [
        (cal_id, days)
        for cal_id, zone, _ in calendars
        for days in policies_by_days
        if (cal_id, days) not in scans
        or now.astimezone(ZoneInfo(zone)).date() != scans[(cal_id, days)].checked_at.astimezone(ZoneInfo(zone)).date()
    ]
    if not due:
        return
    cals = calendars_load({cal_id for cal_id, _ in due})
    default = next((cal_id for cal_id, _, is_default in calendars if is_default), None)
    since = now - timedelta(days=settings.FEEDBACK_LOOKBACK_DAYS)
    # The first look at a (calendar, N) starts FEEDBACK_LOOKBACK_DAYS ago: older acceptances are not asked about.
    FeedbackScan.objects.bulk_create(
        [
            FeedbackScan(calendar_id=cal_id, business_days=days, accepted_before=accept_cutoff(since, days,
                                                                                               cals[cal_id]),
                         checked_at=since)
            for cal_id, days in due
            if (cal_id, days) not in scans
        ],
        ignore_conflicts=True,
    )
    owner_calendar = Coalesce(
        F("owner__profile__calendar_id"),
        F("owner__profile__team__calendar_id"),
        Value(default, output_field=BigIntegerField()),
        output_field=BigIntegerField(),
    )
    for cal_id, days in sorted(due):
        cal = cals[cal_id]
        until = accept_cutoff(now, days, cal)
        with transaction.atomic():
            scan = (
                FeedbackScan.objects.select_for_update(skip_locked=True)
                .filter(calendar_id=cal_id, business_days=days)
                .first()
            )
            if scan is None:
                continue  # another worker holds this range
            if scan.accepted_before < until:
                source = (
                    _with_accept_clock(
                        Handoff.objects.filter(
                            state=HandoffState.ACCEPTED,
                            accepted_at__gte=scan.accepted_before,
                            accepted_at__lt=until,
                            owner__is_active=True,
                        )
                    )
                    .alias(new_calendar_id=owner_calendar)
                    .filter(new_calendar_id=cal_id)
                    .annotate(
                        **_request_values(
                            now=now,
                            active=active,
                            point_at=_reached_at(scan.accepted_before, until, days, cal, "accepted_at"),
                        )
                    )
                    .filter(new_policy_id__in=policies_by_days[days])
                    .order_by("pk")
                )
                result.created += _insert_requests(source)
                scan.accepted_before = until
                result.accept_ranges += 1
            scan.checked_at = now
            scan.save(update_fields=["accepted_before", "checked_at"])


# ---------------------------------------------------------------------------------------------
# Answers
# ---------------------------------------------------------------------------------------------
def _rating(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput(f"A rating is a whole number from {RATING_MIN} to {RATING_MAX}.", field="rating")
    try:
        rating = int(value)
    except ValueError:
        raise InvalidInput(
            f"A rating is a whole number from {RATING_MIN} to {RATING_MAX}, not {value!r}.", field="rating"
        ) from None
    if not RATING_MIN <= rating <= RATING_MAX:
        raise InvalidInput(f"A rating is from {RATING_MIN} to {RATING_MAX}, not {rating}.", field="rating")
    return rating


def _reasons(given: Iterable[ReasonCode | str], request: FeedbackRequest, note: str,
             kept: set[int]) -> list[ReasonCode]:
    """The feedback reasons named, checked: known, active (or already on this feedback), allowed at this point."""
    codes = list(dict.fromkeys(r.code if isinstance(r, ReasonCode) else r for r in given))
    if len(codes) > MAX_REASONS:
        raise InvalidInput(f"At most {MAX_REASONS} reasons.", field="reasons")
    if any(not isinstance(code, str) or not code for code in codes):
        raise InvalidInput("Reasons are feedback reason codes (GET /api/reason-codes/?kind=feedback).",
                           field="reasons")
    found = {r.code: r for r in ReasonCode.objects.filter(kind=ReasonCode.Kind.FEEDBACK, code__in=codes)}
    unknown = [code for code in codes if code not in found]
    if unknown:
        choices = ", ".join(
            ReasonCode.objects.filter(kind=ReasonCode.Kind.FEEDBACK, is_active=True).values_list("code", flat=True)
        )
        raise InvalidInput(f"Unknown feedback reason {unknown[0]!r}; use one of: {choices}.", field="reasons")
    reasons = [found[code] for code in codes]
    for reason in reasons:
        if not reason.is_active and reason.pk not in kept:
            raise InvalidInput(f"{reason.label!r} is no longer an active feedback reason.", field="reasons")
        if request.point == FeedbackPoint.REJECTED and not reason.is_market_signal:
            raise InvalidInput(
                f"{reason.label!r} is a quality reason, and the reject reason already says what was wrong with this "
                "lead: give the rating, and any market signal you heard.",
                field="reasons",
            )
        if reason.requires_note and not note:
            raise InvalidInput(f"The reason {reason.label!r} needs a note that explains it.", field="note")
    return reasons


def _check_rater(actor: Actor, request: FeedbackRequest) -> None:
    if actor.user is None or not actor.user.is_active or actor.user_id != request.rater_id:
        rater = request.rater.get_full_name() or request.rater.get_username()
        raise NotAllowed(
            f"Only {rater}, the rep this lead was handed to, can rate it; managers and marketers read feedback.",
            code="forbidden_role",
        )


def lead_feedback_give(
    *,
    request: FeedbackRequest | int,
    actor: Actor,
    rating,
    reasons: Iterable[ReasonCode | str] = (),
    note: str = "",
    via: str = Via.APP,
    revision: int | None = None,
    at: datetime | None = None,
) -> LeadFeedback:
    """Answer a feedback request, or change the answer while its change window lasts; every version is kept.

    Only the rater may; the request must be pending (not expired or withdrawn), or answered less than
    FEEDBACK_CHANGE_DAYS ago. `revision`, when given, is the version the rater saw (0: unanswered): a change made
    since then (another tab, another link) makes this a conflict instead of silently undoing it. The same answer
    twice (a double click) changes nothing.
    """
    at = at or timezone.now()
    rating = _rating(rating)
    if not isinstance(note, str | None):
        raise InvalidInput("A note is text.", field="note")
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise InvalidInput(f"A note has at most {NOTE_MAX_LENGTH} characters; this one has {len(note)}.", field="note")
    request_id = request.pk if isinstance(request, FeedbackRequest) else int(request)
    with transaction.atomic():
        locked = (
            FeedbackRequest.objects.select_for_update(of=("self",))
            .select_related("rater", "handoff__lead")
            .filter(pk=request_id)
            .first()
        )
        if locked is None:
            raise InvalidInput(f"No feedback request with id {request_id}.", field="request")
        _check_rater(actor, locked)
        feedback = LeadFeedback.objects.select_for_update().filter(request=locked).first()
        current = feedback.revision if feedback is not None else 0
        if revision is not None and revision != current:
            raise WrongState(
                f"Your feedback on {locked.handoff.lead} changed since this page was opened: reload it.",
                code="superseded",
            )
        if feedback is None and locked.outcome != FeedbackOutcome.PENDING:
            raise WrongState(
                f"This request for feedback on {locked.handoff.lead} was {locked.get_outcome_display().lower()}: "
                "it can no longer be answered.",
                code="wrong_state",
            )
        if feedback is not None and at > change_deadline(feedback):
            raise WrongState(
                f"Feedback can be changed for {settings.FEEDBACK_CHANGE_DAYS} days after it was given; yours on "
                f"{locked.handoff.lead} was given on {feedback.given_at:%Y-%m-%d} and can no longer change.",
                code="change_window_over",
            )
        kept = set(feedback.reasons.values_list("pk", flat=True)) if feedback is not None else set()
        chosen = _reasons(reasons, locked, note, kept)
        if feedback is not None and (feedback.rating, {r.pk for r in chosen}, feedback.note) == (rating, kept, note):
            return feedback
        (group,) = _groups([(locked.qualified_at, locked.lead_source, locked.segment, locked.definition_id)])
        now_given = {r.pk for r in chosen}
        if feedback is None:
            feedback = LeadFeedback.objects.create(
                request=locked,
                handoff_id=locked.handoff_id,
                rater_id=locked.rater_id,
                rating=rating,
                note=note,
                definition_id=locked.definition_id,
                policy_id=locked.policy_id,
                given_at=at,
                changed_at=at,
            )
            FeedbackRequest.objects.filter(pk=locked.pk).update(outcome=FeedbackOutcome.ANSWERED, outcome_at=at)
            counts = {"pending": -1, "answered": 1, f"rated_{rating}": 1}
        else:
            counts = Counter({f"rated_{feedback.rating}": -1})
            counts[f"rated_{rating}"] += 1
            feedback.rating, feedback.note, feedback.changed_at = rating, note, at
            feedback.revision += 1
            feedback.save(update_fields=["rating", "note", "changed_at", "revision"])
        _tally(
            [(group, counts)],
            [(group, pk, 1) for pk in now_given - kept] + [(group, pk, -1) for pk in kept - now_given],
        )
        feedback.reasons.set(chosen)
        LeadFeedbackRevision.objects.create(
            feedback=feedback,
            revision=feedback.revision,
            rating=rating,
            reasons=[r.code for r in chosen],
            note=note,
            by=actor.user,
            via=via,
            at=at,
        )
    return feedback


# ---------------------------------------------------------------------------------------------
# One-click links
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LinkClaim:
    request_id: int
    rater_id: int
    rating: int
    revision: int


class LinkInvalid(Exception):
    """A one-click link that cannot be used: `reason` is "expired" or "invalid" (forged, altered, another purpose)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def feedback_link_token(*, request_id: int, rater_id: int, rating: int, revision: int) -> str:
    """A token for "rater rates request `rating`", valid for FEEDBACK_LINK_DAYS and only while the feedback is at
    `revision` (0: not answered yet), so a link used once, or made before a change, cannot change it again."""
    return signing.dumps({"q": request_id, "u": rater_id, "r": rating, "v": revision}, salt=LINK_SALT)


def feedback_link_read(token: str) -> LinkClaim:
    """The claim a one-click token carries; LinkInvalid when it is expired, forged, altered or made for another use."""
    try:
        data = signing.loads(token, salt=LINK_SALT, max_age=timedelta(days=settings.FEEDBACK_LINK_DAYS))
    except signing.SignatureExpired:
        raise LinkInvalid("expired") from None
    except signing.BadSignature:
        raise LinkInvalid("invalid") from None
    fields = ("q", "u", "r", "v")
    if not isinstance(data, dict) or set(data) != set(fields) or not all(type(data[k]) is int for k in fields):
        raise LinkInvalid("invalid")
    if not RATING_MIN <= data["r"] <= RATING_MAX:
        raise LinkInvalid("invalid")
    return LinkClaim(request_id=data["q"], rater_id=data["u"], rating=data["r"], revision=data["v"])


def feedback_link_urls(request: FeedbackRequest) -> list[tuple[int, str, str]]:
    """(rating, its label, absolute one-click URL) for 1–5, for the rater of this request at its current version."""
    # One reverse() for all the links of a digest's leads: the token is the only part that changes.
    page = settings.SITE_URL.rstrip("/") + reverse("feedback_link", args=["TOKEN"])
    revision = feedback_revision(request)
    return [
        (
            rating,
            RATING_LABELS[rating],
            page.replace(
                "TOKEN",
                feedback_link_token(request_id=request.pk, rater_id=request.rater_id, rating=rating, revision=revision),
            ),
        )
        for rating in range(RATING_MIN, RATING_MAX + 1)
    ]


# ---------------------------------------------------------------------------------------------
# The daily digest
# ---------------------------------------------------------------------------------------------
@dataclass
class DigestResult:
    made: int = 0  # digests written (each sent after commit)
    listed: int = 0  # requests they list
    expired: int = 0  # requests that had been in FEEDBACK_DIGEST_REPEATS digests
    withdrawn: int = 0  # pending requests of people no longer active
    not_working: list[int] = field(default_factory=list)  # reps whose local day is not a working day


def digest_time() -> time:
    return time.fromisoformat(settings.FEEDBACK_DIGEST_TIME)


def _rep_zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or settings.TIME_ZONE)
    except (KeyError, ValueError):  # an unknown zone stored before validation: the server's
        return ZoneInfo(settings.TIME_ZONE)


def feedback_digests_create(*, now: datetime | None = None) -> DigestResult:
    """Write today's digest for every rep with pending requests whose local time has passed FEEDBACK_DIGEST_TIME.

    Only on the rep's working days (their calendar: weekends, public holidays and closures such as leave get no
    digest), and not while their profile is marked inactive (away: their requests wait, uncounted). Once per rep
    and local date (a unique row: a second run, or a second worker, writes none). In the same transaction, requests
    already listed FEEDBACK_DIGEST_REPEATS times expire, and the rest are counted as listed once more. The sender
    is queued after commit. The pending requests of a person whose account was deactivated are withdrawn.
    """
    now = now or timezone.now()
    result = DigestResult()
    users = get_user_model().objects.filter(
        pk__in=FeedbackRequest.objects.filter(outcome=FeedbackOutcome.PENDING).values("rater_id")
    )
    raters = list(users.values_list("pk", "is_active", "profile__is_active", "profile__time_zone"))
    gone = [pk for pk, active, _, _ in raters if not active]
    if gone:
        result.withdrawn = feedback_requests_withdraw(rater_ids=gone, at=now)
    local_days = {}
    for pk, active, present, zone in raters:
        local = now.astimezone(_rep_zone(zone))
        start = datetime.combine(local.date(), digest_time(), tzinfo=local.tzinfo)
        # A morning mail: a digest the worker could not write by then (it was down) waits for the next working day.
        if active and present is not False and start <= local < start + DIGEST_WINDOW:
            local_days[pk] = local.date()
    if not local_days:
        return result
    done = set(
        FeedbackDigest.objects.filter(rater_id__in=list(local_days), day__in=set(local_days.values())).values_list(
            "rater_id", "day"
        )
    )
    calendar_of = owner_calendar_ids(local_days)
    cals = calendars_load({c for c in calendar_of.values() if c is not None})
    due: dict[date, list[int]] = defaultdict(list)
    for pk, day in local_days.items():
        if (pk, day) in done:
            continue
        cal = cals.get(calendar_of[pk])
        working = businesstime.is_working_day(day, cal) if cal is not None else day.weekday() < 5
        if working:
            due[day].append(pk)
        else:
            result.not_working.append(pk)
    repeats = settings.FEEDBACK_DIGEST_REPEATS
    with transaction.atomic():
        for day, rater_ids in sorted(due.items()):
            mine = _digests_claim(rater_ids, day, now)
            if not mine:
                continue
            pending = FeedbackRequest.objects.filter(rater_id__any=mine, outcome=FeedbackOutcome.PENDING)
            result.expired += _conclude(pending.filter(digests__gte=repeats), FeedbackOutcome.EXPIRED, now)
            result.listed += pending.update(digests=F("digests") + 1, last_digest_on=day)
            listed = dict(
                FeedbackRequest.objects.filter(
                    rater_id__any=mine, outcome=FeedbackOutcome.PENDING, last_digest_on=day
                )
                .values("rater_id")
                .annotate(n=Count("pk"))
                .values_list("rater_id", "n")
            )
            digests = list(FeedbackDigest.objects.filter(rater_id__any=mine, day=day))
            for digest in digests:
                digest.listed = listed.get(digest.rater_id, 0)
                if not digest.listed:  # everything it would have listed expired: no mail today
                    digest.status, digest.sent_at = FeedbackDigest.Status.SENT, now
            FeedbackDigest.objects.bulk_update(digests, ["listed", "status", "sent_at"])
            result.made += sum(1 for d in digests if d.listed)
        if result.made:
            job_after_commit(SEND_TASK)
    return result


def _digests_claim(rater_ids: list[int], day: date, now: datetime) -> list[int]:
    """Write the (rater, day) digest rows that do not exist yet; the raters whose row this call wrote."""
    mine = []
    for rater_id in rater_ids:
        try:
            with transaction.atomic():  # a savepoint: a row another worker wrote is skipped, not fatal
                FeedbackDigest.objects.create(rater_id=rater_id, day=day, next_attempt_at=now, created_at=now)
        except IntegrityError:
            continue
        mine.append(rater_id)
    return mine


def _load_digests(ids: list[int], now: datetime) -> dict[int, FeedbackDigest]:
    digests = FeedbackDigest.objects.select_related("rater__profile").in_bulk(ids)
    items = digest_requests((d.rater_id, d.day) for d in digests.values())
    for digest in digests.values():
        digest.items = items.get((digest.rater_id, digest.day), [])
        profile = getattr(digest.rater, "profile", None)
        digest.stale = now.astimezone(_rep_zone(profile.time_zone if profile else None)).date() > digest.day
    return digests


def feedback_digest_message(digest: FeedbackDigest) -> Message | None:
    """The digest's mail (text and HTML, five one-click rating links per lead) and its Slack line.

    None when nothing is owed any more: every request it listed was answered or ended since it was written, or its
    day is over in the rep's zone (the sender was down); that day's digest was never seen, so its requests are
    listed again in the next one.
    """
    if getattr(digest, "stale", False):
        _digest_gave_up(digest)
        return None
    items = getattr(digest, "items", None)
    if items is None:
        items = digest_requests([(digest.rater_id, digest.day)])[(digest.rater_id, digest.day)]
    if not items:
        return None
    rater = digest.rater
    name = rater.get_full_name() or rater.get_username()
    site = settings.SITE_URL.rstrip("/")
    rows = [{"request": r, "lead": r.handoff.lead, "links": feedback_link_urls(r)} for r in items]
    context = {
        "name": name,
        "rows": rows,
        "count": len(rows),
        "day": digest.day,
        "repeats": settings.FEEDBACK_DIGEST_REPEATS,
        "app_url": site + reverse("feedback_to_give"),
    }
    noun = "lead" if len(rows) == 1 else "leads"
    subject = f"How good were your leads? {len(rows)} {noun} to rate"
    slack = f"{name} has {len(rows)} {noun} to rate in handoff (one click each): {context['app_url']}"
    return Message(
        subject=subject,
        text=render_to_string("handoff/email/feedback_digest.txt", context),
        html=render_to_string("handoff/email/feedback_digest.html", context),
        recipients=[rater.email] if rater.email else [],
        slack=slack,
    )


def _digest_gave_up(digest: FeedbackDigest) -> None:
    """A digest that could not be delivered did not ask: its requests are listed again in the next one."""
    FeedbackRequest.objects.filter(
        rater_id=digest.rater_id, last_digest_on=digest.day, outcome=FeedbackOutcome.PENDING, digests__gt=0
    ).update(digests=F("digests") - 1)


def feedback_digests_send(*, now: datetime | None = None, limit: int = 200) -> SendResult:
    """Deliver due digests (mail, and a Slack line when configured), each channel once, retried with backoff."""
    now = now or timezone.now()
    return outbox_send(
        model=FeedbackDigest,
        now=now,
        limit=limit,
        load=lambda ids: _load_digests(ids, now),
        compose=feedback_digest_message,
        max_attempts=settings.FEEDBACK_DIGEST_MAX_ATTEMPTS,
        gave_up=_digest_gave_up,
    )


# ---------------------------------------------------------------------------------------------
# Tallies: the lead quality report's counts, kept with every change
# ---------------------------------------------------------------------------------------------
_GROUP = ("day", "lead_source", "segment", "definition")


def _groups(rows: Iterable[tuple]) -> list[tuple]:
    """The tally group of each (qualified_at, lead_source, segment, definition_id, …) row, in the report's days."""
    zone = report_zone()
    return [(qualified_at.astimezone(zone).date(), source, segment, definition) for qualified_at, source, segment,
            definition, *_ in rows]



def _tally(changes: Iterable[tuple[tuple, dict]], reasons: Iterable[tuple[tuple, int, int]] = ()) -> None:
    """Add (group, {count: +n}) to the request tallies and (group, reason id, +n) to the reason tallies."""
    totals: dict[tuple, Counter] = defaultdict(Counter)
    for group, counts in changes:
        totals[group].update(counts)
    given: Counter = Counter()
    for group, reason_id, n in reasons:
        given[(*group, reason_id)] += n
    keys = ("day", "lead_source", "segment", "definition_id")
    upsert_add(
        FeedbackTally,
        [
            {**dict(zip(keys, group, strict=True)), **{name: counts.get(name, 0) for name in FeedbackTally.COUNTS}}
            for group, counts in totals.items()
            if any(counts.values())
        ],
        key=_GROUP,
        counts=FeedbackTally.COUNTS,
    )
    upsert_add(
        FeedbackReasonTally,
        [{**dict(zip((*keys, "reason_id"), key, strict=True)), "given": n} for key, n in given.items() if n],
        key=(*_GROUP, "reason"),
        counts=FeedbackReasonTally.COUNTS,
    )


def feedback_tallies_rebuild() -> tuple[int, int]:
    """Count every tally again from the requests and their feedback (a repair, or after loading rows by hand).

    Returns the number of (request, reason) tally rows written. Runs in one transaction.
    """
    day = TruncDate("qualified_at", tzinfo=report_zone())
    counted = FeedbackRequest.objects.exclude(outcome=FeedbackOutcome.WITHDRAWN).annotate(day=day)
    group = ("day", "lead_source", "segment", "definition_id")
    totals: dict[tuple, Counter] = defaultdict(Counter)
    for row in counted.values(*group, "outcome", "feedback__rating").annotate(n=Count("pk")).order_by():
        counts = totals[tuple(row[name] for name in group)]
        counts[row["outcome"]] += row["n"]
        if row["outcome"] == FeedbackOutcome.ANSWERED and row["feedback__rating"]:
            counts[f"rated_{row['feedback__rating']}"] += row["n"]
    reasons: Counter = Counter()
    for row in (
        counted.filter(outcome=FeedbackOutcome.ANSWERED, feedback__reasons__isnull=False)
        .values(*group, "feedback__reasons")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        reasons[(*(row[name] for name in group), row["feedback__reasons"])] += row["n"]
    for row in counted.filter(reject_reason__isnull=False).values(*group, "reject_reason_id").annotate(
        n=Count("pk")
    ).order_by():
        reasons[(*(row[name] for name in group), row["reject_reason_id"])] += row["n"]
    with transaction.atomic():
        FeedbackTally.objects.all().delete()
        FeedbackReasonTally.objects.all().delete()
        FeedbackTally.objects.bulk_create(
            [
                FeedbackTally(day=key[0], lead_source=key[1], segment=key[2], definition_id=key[3],
                              **{name: counts.get(name, 0) for name in FeedbackTally.COUNTS})
                for key, counts in totals.items()
            ],
            batch_size=2000,
        )
        FeedbackReasonTally.objects.bulk_create(
            [
                FeedbackReasonTally(day=key[0], lead_source=key[1], segment=key[2], definition_id=key[3],
                                    reason_id=key[4], given=n)
                for key, n in reasons.items()
            ],
            batch_size=2000,
        )
    return len(totals), len(reasons)

