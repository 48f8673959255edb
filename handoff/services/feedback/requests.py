"""The request job: feedback points turned into requests set-based (INSERT … SELECT … ON CONFLICT DO NOTHING),
the accepted point found as business days pass."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    DateTimeField,
    F,
    FilteredRelation,
    IntegerField,
    Q,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from handoff import businesstime
from handoff.db import insert_from_select
from handoff.models import (
    FeedbackOutcome,
    FeedbackPoint,
    FeedbackPointReached,
    FeedbackRequest,
    FeedbackScan,
    Handoff,
    HandoffState,
    MilestoneKind,
)
from handoff.selectors.calendars import calendars_load
from handoff.selectors.feedback import (
    PolicyPoints,
    calendar_zones,
    last_reject_reason,
    policy_feedback_points,
)

from .constants import REQUEST_BATCH
from .tallies import _groups, _tally

log = logging.getLogger(__name__)


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
    "handoff_id",
    "rater_id",
    "point",
    "point_at",
    "asked_at",
    "policy_id",
    "definition_id",
    "qualified_at",
    "lead_source",
    "segment",
    "reject_reason_id",
    "digests",
    "outcome",
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
    added = insert_from_select(FeedbackRequest, source, _ALIASES, unique=("handoff", "rater"), returning=_TALLIED)
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
            ids = list(reached.select_for_update(skip_locked=True).order_by("pk").values_list("pk", flat=True)[:batch])
            if not ids:
                return
            if asks:  # no policy asks at any event point: the points are simply used up
                id_field = BigIntegerField()
                copied = {
                    name: F(name)
                    for name in (
                        "handoff_id",
                        "rater_id",
                        "point",
                        "definition_id",
                        "qualified_at",
                        "lead_source",
                        "segment",
                        "reject_reason_id",
                    )
                }
                source = (
                    FeedbackPointReached.objects.filter(pk__any=ids, rater__is_active=True)
                    .annotate(
                        **_new_request(
                            now,
                            point_at=F("reached_at"),
                            # An unclocked handoff is asked as the policy in force says.
                            policy_id=Coalesce(
                                "policy_id", Value(active, output_field=id_field), output_field=id_field
                            ),
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
            FeedbackScan(
                calendar_id=cal_id,
                business_days=days,
                accepted_before=accept_cutoff(since, days, cals[cal_id]),
                checked_at=since,
            )
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
