"""The request job: feedback points turned into requests set-based (INSERT … SELECT … ON CONFLICT DO NOTHING),
the accepted point found as business days pass."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from operator import or_
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
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
    people_calendars,
    policy_feedback_points,
)
from handoff.selectors.quality import report_zone

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

# What an insert's new requests add to the tallies, counted by PostgreSQL from the rows the insert returns: a few
# hundred (day, source, segment, definition, reject reason) groups leave the database, not one row per request.
_COUNT_ADDED = """
    SELECT (qualified_at AT TIME ZONE %s)::date, lead_source, segment, definition_id, reject_reason_id, count(*)
    FROM added GROUP BY 1, 2, 3, 4, 5"""


_WORK_MEM = "SET LOCAL work_mem = '64MB'"  # this transaction only


def _tally_added(counted: list[tuple]) -> int:
    """Count new requests into the tallies, from (day, source, segment, definition, reject reason, n) rows."""
    _tally(
        [(tuple(row[:4]), {"pending": row[5]}) for row in counted],
        [(tuple(row[:4]), row[4], row[5]) for row in counted if row[4] is not None],
    )
    return sum(row[5] for row in counted)


def _insert_statement(source) -> tuple[str, list]:
    """`INSERT INTO request (…) SELECT … ON CONFLICT (handoff, rater) DO NOTHING RETURNING` what the tallies group
    by, the columns in the order `source` (annotated with `_new_request`) selects them."""
    query = source.values(*_ALIASES.values()).query
    by_alias = {alias: name for name, alias in _ALIASES.items()}
    selected = list(query.selected or ()) if hasattr(query, "selected") else list(query.annotation_select)
    meta, quote = FeedbackRequest._meta, connection.ops.quote_name
    targets = ", ".join(quote(meta.get_field(by_alias[alias]).column) for alias in selected)
    sql, params = query.sql_with_params()
    returning = ", ".join(quote(meta.get_field(name).column) for name in _TALLIED)
    return (
        f"INSERT INTO {quote(meta.db_table)} ({targets}) SELECT * FROM ({sql}) AS source "
        f"ON CONFLICT (handoff_id, rater_id) DO NOTHING RETURNING {returning}",
        list(params),
    )


def _insert_requests(source) -> int:
    """Insert the requests `source` selects (an existing one is skipped), with their tallies; how many were new."""
    if connection.vendor == "postgresql":
        statement, params = _insert_statement(source)
        with connection.cursor() as cursor:
            cursor.execute(_WORK_MEM)  # the insert's sort and what it added, in memory (see `_claim_and_ask`)
            cursor.execute(f"WITH added AS ({statement}) {_COUNT_ADDED}", [*params, report_zone().key])
            return _tally_added(cursor.fetchall())
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
    asks = {policy_id: sorted(policy.events) for policy_id, policy in points.items() if policy.events}
    reached = FeedbackPointReached.objects.filter(reached_at__lte=now)
    if not reached.exists():  # the usual case: no lock, no transaction
        return
    claim = _claim_and_ask if connection.vendor == "postgresql" else _claim_and_ask_portable
    while True:
        with transaction.atomic():
            claimed, created = claim(now=now, asks=asks, active=active, batch=batch)
        result.points_read += claimed
        result.created += created
        if claimed < batch:
            return


def _claim_and_ask(*, now: datetime, asks: dict[int, list[str]], active: int | None, batch: int) -> tuple[int, int]:
    """PostgreSQL: one statement claims a batch of reached points (SKIP LOCKED: rows another worker holds are left
    to it), deletes them, inserts their requests and counts what the tallies add. Returns (claimed, created)."""
    queue, requests = FeedbackPointReached._meta.db_table, FeedbackRequest._meta.db_table
    users = get_user_model()._meta.db_table
    # The policies that ask at these points; an unclocked handoff is asked as the policy in force says. No policy
    # asks at any event point: the points are simply used up.
    condition = " OR ".join(["(coalesce(c.policy_id, %s::bigint) = %s AND c.point = ANY(%s))"] * len(asks)) or "false"
    condition_params = [value for policy_id, names in asks.items() for value in (active, policy_id, names)]
    with connection.cursor() as cursor:
        # A batch's rows are sorted (the insert's lock order) and held twice (what was claimed, what was added):
        # in memory, not in temporary files.
        cursor.execute(_WORK_MEM)
        cursor.execute(
            # The claimed rows are deleted by their physical address (ctid), looked up once, rather than joined
            # back by id: half the cost of the delete. Queue rows are never updated, and these are locked, so the
            # address is the row's.
            f"""WITH claimed AS (
                    DELETE FROM {queue} WHERE ctid = ANY(ARRAY(
                        SELECT ctid FROM {queue} WHERE reached_at <= %s ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED))
                    RETURNING *
                ), added AS (
                    INSERT INTO {requests} (handoff_id, rater_id, point, point_at, asked_at, policy_id, definition_id,
                        qualified_at, lead_source, segment, reject_reason_id, digests, outcome)
                    SELECT c.handoff_id, c.rater_id, c.point, c.reached_at, %s, coalesce(c.policy_id, %s::bigint),
                           c.definition_id, c.qualified_at, c.lead_source, c.segment, c.reject_reason_id, 0, %s
                    FROM claimed c
                    -- A filter on a hashed list of the few inactive people, not a join the planner would have to
                    -- guess the claimed rows' number for.
                    WHERE c.rater_id NOT IN (SELECT id FROM {users} WHERE NOT is_active) AND ({condition})
                    -- The earliest point of a handoff wins; the same order in every worker.
                    ORDER BY c.handoff_id, c.reached_at, c.id
                    ON CONFLICT (handoff_id, rater_id) DO NOTHING
                    RETURNING {", ".join(_TALLIED)}
                ), counted AS ({_COUNT_ADDED})
                SELECT n.claimed, counted.* FROM (SELECT count(*) AS claimed FROM claimed) n
                LEFT JOIN counted ON true""",
            [now, batch, now, active, FeedbackOutcome.PENDING.value, *condition_params, report_zone().key],
        )
        rows = cursor.fetchall()
    return rows[0][0], _tally_added([row[1:] for row in rows if row[1] is not None])


def _claim_and_ask_portable(
    *, now: datetime, asks: dict[int, list[str]], active: int | None, batch: int
) -> tuple[int, int]:
    """Elsewhere (SQLite, one writer at a time): the same in three statements."""
    ids = list(
        FeedbackPointReached.objects.filter(reached_at__lte=now)
        .select_for_update(skip_locked=True)
        .order_by("pk")
        .values_list("pk", flat=True)[:batch]
    )
    if not ids:
        return 0, 0
    created = 0
    if asks:
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
                    policy_id=Coalesce("policy_id", Value(active, output_field=id_field), output_field=id_field),
                    **copied,
                )
            )
            .filter(reduce(or_, (Q(new_policy_id=pk, point__in=names) for pk, names in asks.items())))
            .order_by("handoff_id", "reached_at", "pk")
        )
        created = _insert_requests(source)
    FeedbackPointReached.objects.filter(pk__any=ids).delete()
    return len(ids), created


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


def _owners_by(cal_id: int, default: int | None, assigned: dict[int, int]) -> Q | None:
    """The handoff owners who work by this calendar (None: nobody does), given who has a calendar of their own."""
    if cal_id == default:
        elsewhere = [user_id for user_id, calendar_id in assigned.items() if calendar_id != cal_id]
        return ~Q(owner_id__any=elsewhere) if elsewhere else Q()
    here = [user_id for user_id, calendar_id in assigned.items() if calendar_id == cal_id]
    return Q(owner_id__any=here) if here else None


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
    # Whose business days count: the owner's calendar (their own, else their team's, else the default). Read once
    # as owner ids, so that the handoffs are found by the range of their acceptance times alone.
    assigned = people_calendars()
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
                owners = _owners_by(cal_id, default, assigned)
                source = (
                    _with_accept_clock(
                        Handoff.objects.filter(
                            owners,
                            state=HandoffState.ACCEPTED,
                            accepted_at__gte=scan.accepted_before,
                            accepted_at__lt=until,
                            owner__is_active=True,
                        )
                    )
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
                if owners is not None:
                    result.created += _insert_requests(source)
                scan.accepted_before = until
                result.accept_ranges += 1
            scan.checked_at = now
            scan.save(update_fields=["accepted_before", "checked_at"])
