"""Reads of routing: the rules in force, each team's reps as routing sees them right now, the team queues."""

from __future__ import annotations

import functools
import json
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import connection
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from handoff import businesstime
from handoff.db import execute_prepared
from handoff.models import (
    AwayPeriod,
    BusinessCalendar,
    CalendarDay,
    Handoff,
    HandoffRouting,
    RepProfile,
    RepRouting,
    RepRoutingDay,
    Role,
    RoutingRules,
    RoutingStatus,
    Team,
    TeamRouting,
    WriteBack,
)
from handoff.models.handoffs import OPEN_STATES

from .calendars import calendars_load, default_calendar_id
from .people import user_roles

# Why a rep got no lead, as the audit and the pages say it.
SKIP_TEXT = {
    "inactive": "inactive",
    "away": "out of office",
    "off_hours": "outside working hours",
    "daily_cap": "daily cap reached",
    "open_cap": "open-handoff cap reached",
    "breached": "breached this lead's SLA before",
}


def active_routing_rules() -> RoutingRules | None:
    return RoutingRules.objects.filter(is_active=True).select_related("catch_all_team").first()


@dataclass
class RepState:
    """One rep as routing sees them at an instant: their share, their counts today, and whether they can take leads."""

    user_id: int
    username: str
    name: str
    team_id: int
    weight: int
    daily_cap: int | None
    open_cap: int | None
    credit: int
    assigned: int
    today: int
    open: int
    day: date
    away_until: date | None
    skip: str | None  # inactive / away / off_hours: no lead whatever the counts
    team_name: str = ""
    calendar_id: int | None = None  # whose hours count for the rep (own, team's, default): clocks follow it
    calendar: Any = None  # that calendar, loaded
    has_routing_row: bool = True  # False: no RepRouting row yet (the defaults shown); a routing pass makes one

    @property
    def capped(self) -> str | None:
        if self.daily_cap is not None and self.today >= self.daily_cap:
            return "daily_cap"
        if self.open_cap is not None and self.open >= self.open_cap:
            return "open_cap"
        return None

    @property
    def status(self) -> str:
        """active, or why not (a key of SKIP_TEXT)."""
        return self.skip or self.capped or "active"

    @property
    def status_text(self) -> str:
        return "active" if self.status == "active" else SKIP_TEXT[self.status]


def routing_pool(team_ids: Iterable[int], at: datetime, *, lock: bool = False) -> dict[int, list[RepState]]:
    """team id → its sales reps as routing sees them at `at`, in user id order (the round robin's tie-break).

    `lock`: the routing pass's read, inside its transaction. The reps' routing rows are locked first, in id order (one
    pass per team at once), and the counts are as the pass that held them last left them: a pass that waited for
    another sees what that one wrote. Reps without a routing row yet are not locked (the caller makes their rows).
    """
    team_ids = set(team_ids)
    # A rep's day is `at` in their calendar's zone: never more than a day either side of the UTC date (zones run
    # from UTC-12 to UTC+14), so the leads given and the away periods of those three dates are all that can count.
    utc_day = at.astimezone(UTC).date()
    first, last = utc_day - timedelta(days=1), utc_day + timedelta(days=1)
    if connection.vendor == "postgresql":
        reps = _pool_reps_postgresql(team_ids, first, last, lock=lock)
    else:
        if lock:
            list(
                RepRouting.objects.select_for_update(of=("self",))
                .filter(user__profile__team_id__in=team_ids)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
        reps = _pool_reps(team_ids, first, last)
    fallback = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    pool: dict[int, list[RepState]] = {team_id: [] for team_id in team_ids}
    for r in reps:
        calendar = r.calendar
        day = at.astimezone(calendar.tz if calendar is not None else fallback).date()
        away_until = None
        for starts, ends in r.away:
            if starts <= day <= ends:
                away_until = max(away_until or ends, ends)
        skip = None
        if not r.active:
            skip = "inactive"
        elif away_until is not None:
            skip = "away"
        elif r.skips_off_hours and calendar is not None and not businesstime.is_open(at, calendar):
            skip = "off_hours"
        share = r.share or {}
        pool[r.team_id].append(
            RepState(
                user_id=r.user_id,
                username=r.username,
                name=" ".join(n for n in (r.first_name, r.last_name) if n) or r.username,
                team_id=r.team_id,
                weight=share.get("weight", 1),
                daily_cap=share.get("daily_cap"),
                open_cap=share.get("open_cap"),
                credit=share.get("credit", 0),
                assigned=share.get("assigned", 0),
                today=r.given.get(day, 0),
                open=r.open,
                day=day,
                away_until=away_until,
                skip=skip,
                team_name=r.team_name,
                calendar_id=r.calendar_id,
                calendar=calendar,
                has_routing_row=r.share is not None,
            )
        )
    return pool


_SHARE_FIELDS = ("weight", "daily_cap", "open_cap", "credit", "assigned")


@dataclass
class _PoolRep:
    """One rep as read for the pool, before `at` decides their day, skip and count today."""

    user_id: int
    team_id: int
    team_name: str
    username: str
    first_name: str
    last_name: str
    active: bool  # the profile and the user both
    share: dict | None  # their routing row's fields (_SHARE_FIELDS); None: no routing row yet
    skips_off_hours: bool  # their team gives leads only inside working hours
    calendar_id: int | None
    calendar: Any
    open: int
    given: dict[date, int]  # leads given on each of the three possible days
    away: list[tuple[date, date]]  # away periods touching those days


def _pool_reps(team_ids: set[int], first: date, last: date) -> list[_PoolRep]:
    """The pool's reads through the ORM (SQLite, the embedded default): reps, calendars, days and away periods."""
    # One read for who they are, their share and counts (their routing row, if any) and whose calendar they keep.
    profiles = list(
        RepProfile.objects.filter(team_id__in=team_ids, user__groups__name=Role.SALES_REP)
        .values("user_id", "team_id", "team__name", "is_active", "user__is_active", "user__username",
                "user__first_name", "user__last_name", "calendar_id", "team__calendar_id",
                "user__routing__user_id", *(f"user__routing__{name}" for name in _SHARE_FIELDS),
                open_n=Coalesce(Subquery(
                    Handoff.objects.filter(owner_id=OuterRef("user_id"), state__in=OPEN_STATES)
                    .order_by().values("owner_id").annotate(n=Count("id")).values("n")
                ), 0),
                team_skips_off_hours=F("team__routing__skip_outside_hours"))
        .distinct()
        .order_by("user_id")
    )
    ids = [p["user_id"] for p in profiles]
    # The rep's calendar, else their team's, else the default (selectors.calendars.owner_calendar_ids's rule).
    default = default_calendar_id() if any(not (p["calendar_id"] or p["team__calendar_id"]) for p in profiles) else None
    calendar_of = {p["user_id"]: p["calendar_id"] or p["team__calendar_id"] or default for p in profiles}
    calendars = calendars_load({c for c in calendar_of.values() if c is not None})
    given: dict[int, dict[date, int]] = defaultdict(dict)
    away: dict[int, list[tuple[date, date]]] = defaultdict(list)
    if ids:
        for user_id, day, n in RepRoutingDay.objects.filter(user_id__in=ids, day__range=(first, last)).values_list(
            "user_id", "day", "assigned"
        ):
            given[user_id][day] = n
        for user_id, starts, ends in AwayPeriod.objects.filter(
            user_id__in=ids, ends_on__gte=first, starts_on__lte=last
        ).values_list("user_id", "starts_on", "ends_on"):
            away[user_id].append((starts, ends))
    return [
        _PoolRep(
            user_id=p["user_id"], team_id=p["team_id"], team_name=p["team__name"], username=p["user__username"],
            first_name=p["user__first_name"], last_name=p["user__last_name"],
            active=bool(p["is_active"] and p["user__is_active"]),
            share=({name: p[f"user__routing__{name}"] for name in _SHARE_FIELDS}
                   if p["user__routing__user_id"] is not None else None),
            skips_off_hours=bool(p["team_skips_off_hours"]),
            calendar_id=calendar_of[p["user_id"]], calendar=calendars.get(calendar_of[p["user_id"]]),
            open=p["open_n"], given=given[p["user_id"]], away=away[p["user_id"]],
        )
        for p in profiles
    ]


@functools.cache
def _pool_sql(*, lock: bool) -> str:
    """The pool's statement, prepared once per connection (`db.execute_prepared`): built once per process. Its
    planning cost more than running it (PostgreSQL still plans it on its first runs, before it keeps a generic plan),
    so it joins only what every column needs (profile, user, team, routing row) and reads the rest by subqueries of
    one table each, which plan cheaply; membership of the sales reps' group is a column, not a condition (a semi-join
    there doubled the planning).

    `lock`: the routing rows are first locked, in id order, by the `locked` CTE (the team's members': a member who
    left the reps' group locks a row nobody needs, harmless). The rest of the statement reads as of its start, so a
    row another pass changed while this one waited for its lock would be read stale: the last column says whether
    the row locked (its latest version) is another than the one read (`xmin`, the transaction that wrote it).
    """

    def table(model) -> str:
        return connection.ops.quote_name(model._meta.db_table)

    user_model = get_user_model()
    locked = f"""
        WITH locked AS MATERIALIZED (
            SELECT lr.user_id, lr.xmin AS version FROM {table(RepRouting)} lr
            JOIN {table(RepProfile)} lp ON lp.user_id = lr.user_id
            WHERE lp.team_id = ANY(%(teams)s::bigint[])
            ORDER BY lr.user_id FOR UPDATE OF lr)"""
    return f"""{locked if lock else ""}
        SELECT p.user_id, p.team_id, t.name, p.is_active AND u.is_active, u.username, u.first_name, u.last_name,
               EXISTS (SELECT 1 FROM {table(user_model.groups.through)} ug WHERE ug.user_id = p.user_id
                       AND ug.group_id = (SELECT g.id FROM {table(Group)} g WHERE g.name = %(role)s)),
               r.user_id IS NOT NULL, r.weight, r.daily_cap, r.open_cap, r.credit, r.assigned,
               COALESCE((SELECT tr.skip_outside_hours FROM {table(TeamRouting)} tr WHERE tr.team_id = p.team_id),
                        false),
               -- The rep's calendar, else their team's, else the default (calendars.owner_calendar_ids's rule).
               (SELECT json_build_array(c.id, c.time_zone, c.weekly_hours, c.holiday_country, c.holiday_subdivision,
                                        (SELECT json_agg(json_build_array(cd.date, cd.hours))
                                         FROM {table(CalendarDay)} cd WHERE cd.calendar_id = c.id))
                FROM {table(BusinessCalendar)} c
                WHERE c.id = COALESCE(p.calendar_id, t.calendar_id, (
                    SELECT dc.id FROM {table(BusinessCalendar)} dc WHERE dc.is_default ORDER BY dc.name LIMIT 1))),
               (SELECT count(*) FROM {table(Handoff)} h WHERE h.owner_id = p.user_id AND h.state = ANY(%(open)s)),
               (SELECT json_agg(json_build_array(d.day, d.assigned)) FROM {table(RepRoutingDay)} d
                WHERE d.user_id = p.user_id AND d.day BETWEEN %(first)s AND %(last)s),
               (SELECT json_agg(json_build_array(a.starts_on, a.ends_on)) FROM {table(AwayPeriod)} a
                WHERE a.user_id = p.user_id AND a.ends_on >= %(first)s AND a.starts_on <= %(last)s),
               {"l.version IS DISTINCT FROM r.xmin" if lock else "false"}
        FROM {table(RepProfile)} p
        JOIN {table(user_model)} u ON u.id = p.user_id
        JOIN {table(Team)} t ON t.id = p.team_id
        LEFT JOIN {table(RepRouting)} r ON r.user_id = p.user_id
        {"LEFT JOIN locked l ON l.user_id = p.user_id" if lock else ""}
        WHERE p.team_id = ANY(%(teams)s::bigint[])
        ORDER BY p.user_id
    """


def _json(value) -> Any:
    """A json/jsonb column as Python: Django leaves decoding JSON to the fields, so a raw read gets text (NULL, as
    `json_agg` gives for no rows, reads as an empty list)."""
    if value is None:
        return []
    return json.loads(value) if isinstance(value, str) else value


def _pool_reps_postgresql(team_ids: set[int], first: date, last: date, *, lock: bool) -> list[_PoolRep]:
    """The pool in one statement on PostgreSQL (the lock too, when asked): reps, routing rows, open handoffs,
    calendars (with their days), the leads given and the away periods of the three possible days, each as a column
    of the rep's row.

    A routing pass reads this inside the page's transaction for every lead it routes: the lock and seven ORM reads
    built and sent one after another were most of what routing one lead cost.
    """
    if not team_ids:
        return []
    params = {"teams": sorted(team_ids), "role": Role.SALES_REP, "first": first, "last": last,
              "open": list(OPEN_STATES)}
    with connection.cursor() as cursor:
        execute_prepared(cursor, _pool_sql(lock=lock), params)
        rows = cursor.fetchall()
        if lock and any(row[-1] for row in rows):
            # Another pass changed some of these reps while this one waited for their locks: read them again, now
            # that they are held (a statement of its own sees what that pass committed).
            execute_prepared(cursor, _pool_sql(lock=False), params)
            rows = cursor.fetchall()
    reps = []
    calendars: dict[int, Any] = {}  # each calendar built once: the rows of its reps carry the same values
    for (user_id, team_id, team_name, active, username, first_name, last_name, is_rep, has_share, weight, daily_cap,
         open_cap, credit, assigned, skips_off_hours, calendar_row, open_n, given, away, _stale) in rows:
        if not is_rep:
            continue
        calendar_id, calendar = None, None
        if calendar_row is not None:
            calendar_row = _json(calendar_row)
            calendar_id = calendar_row[0]
            if calendar_id not in calendars:
                _, time_zone, weekly_hours, holiday_country, holiday_subdivision, calendar_days = calendar_row
                # Built from the values just read (businesstime caches a calendar by its contents, so an edited
                # calendar is a new one): never a calendar kept from before.
                calendars[calendar_id] = businesstime.calendar_from_values(
                    time_zone=time_zone, weekly_hours=weekly_hours, holiday_country=holiday_country,
                    holiday_subdivision=holiday_subdivision,
                    days=[(date.fromisoformat(day), hours) for day, hours in calendar_days or ()],
                )
            calendar = calendars[calendar_id]
        reps.append(_PoolRep(
            user_id=user_id, team_id=team_id, team_name=team_name, username=username, first_name=first_name,
            last_name=last_name, active=active,
            share=dict(zip(_SHARE_FIELDS, (weight, daily_cap, open_cap, credit, assigned), strict=True))
            if has_share else None,
            skips_off_hours=skips_off_hours, calendar_id=calendar_id, calendar=calendar, open=open_n,
            given={date.fromisoformat(day): n for day, n in _json(given)},
            away=[(date.fromisoformat(starts), date.fromisoformat(ends)) for starts, ends in _json(away)],
        ))
    return reps


def routing_teams_for(user: AbstractBaseUser) -> QuerySet[Team]:
    """The teams whose routing the user may see and change: a manager's own teams; an admin's every team."""
    if user.is_staff:
        return Team.objects.all()
    if Role.MANAGER in user_roles(user):
        return Team.objects.filter(manager=user)
    return Team.objects.none()


def routing_reps_visible_to(user: AbstractBaseUser) -> QuerySet:
    """Sales reps in a team whose routing the user may see: a rep themselves; a manager their teams'; an admin all."""
    reps = get_user_model().objects.filter(groups__name=Role.SALES_REP, profile__team__isnull=False)
    visible = Q(pk__in=[])
    if user.is_staff:
        visible = Q()
    else:
        roles = user_roles(user)
        if Role.SALES_REP in roles:
            visible |= Q(pk=user.pk)
        if Role.MANAGER in roles:
            visible |= Q(profile__team__manager=user)
    return reps.filter(visible).select_related("profile").distinct().order_by("pk")


def routing_queue(team_ids: Iterable[int]) -> QuerySet[HandoffRouting]:
    """The leads waiting in these teams' queues (no rep could take them yet), oldest first."""
    return (
        HandoffRouting.objects.filter(
            team_id__in=list(team_ids),
            status=RoutingStatus.QUEUED,
            handoff__owner__isnull=True,
            handoff__state__in=OPEN_STATES,
        )
        .select_related("handoff__lead", "team", "rules")
        .order_by("queued_at", "handoff_id")
    )


def queued_handoff_ids(*, limit: int) -> list[int]:
    """Handoffs waiting in any team queue, oldest first: what the next routing pass retries."""
    return list(
        HandoffRouting.objects.filter(status=RoutingStatus.QUEUED, handoff__owner__isnull=True,
                                      handoff__state__in=OPEN_STATES)
        .order_by("queued_at", "handoff_id")
        .values_list("handoff_id", flat=True)[:limit]
    )


def away_periods_visible_to(user: AbstractBaseUser) -> QuerySet[AwayPeriod]:
    """A rep's own away periods; a manager's team members'; every one for an admin."""
    periods = AwayPeriod.objects.select_related("user", "set_by")
    if user.is_staff:
        return periods
    roles = user_roles(user)
    visible = Q(pk__in=[])
    if Role.SALES_REP in roles:
        visible |= Q(user=user)
    if Role.MANAGER in roles:
        visible |= Q(user__profile__team__manager=user)
    return periods.filter(visible)


@dataclass
class OwnerWriteBack:
    """The latest write-back of a handoff's routed owner to the CRM, and how it went."""

    status: str
    status_text: str
    error: str
    error_code: str


def owner_writebacks(handoff_ids: Iterable[int]) -> dict[int, OwnerWriteBack]:
    """handoff id → the latest OwnerId write-back of its routing (a refused owner shows the CRM's error)."""
    found: dict[int, OwnerWriteBack] = {}
    rows = (
        WriteBack.objects.filter(event__handoff_id__in=list(handoff_ids), action="route")
        .order_by("event__handoff_id", "-id")
        .values_list("event__handoff_id", "status", "error", "error_code")
    )
    labels = dict(WriteBack.Status.choices)
    for handoff_id, status, error, code in rows:
        found.setdefault(handoff_id, OwnerWriteBack(status, labels.get(status, status), error, code))
    return found


def owner_refusals(team_ids: Iterable[int], *, limit: int = 50) -> list[dict]:
    """Routed owners the CRM refused (or is refusing, still retried), newest first, with the CRM's error."""
    rows = (
        WriteBack.objects.filter(action="route", event__handoff__routing__team_id__in=list(team_ids))
        .exclude(error="")
        .exclude(status__in=[WriteBack.Status.SENT, WriteBack.Status.SUPERSEDED])
        .select_related("event__handoff__owner", "lead")
        .order_by("-id")[:limit]
    )
    return [
        {"lead": row.lead, "owner": row.event.handoff.owner, "status": row.get_status_display(),
         "error": row.error, "error_code": row.error_code}
        for row in rows
    ]


def team_board(team: Team, at: datetime) -> dict:
    """A team's routing as its manager sees it: each rep's status, share and leads today, and the queue."""
    reps = routing_pool([team.pk], at)[team.pk]
    weight_of_active = sum(r.weight for r in reps if r.status == "active") or 0
    given_today = sum(r.today for r in reps)
    rows = []
    for rep in reps:
        share = rep.weight / weight_of_active if rep.status == "active" and weight_of_active else 0.0
        rows.append({"rep": rep, "share": share, "expected_today": round(share * given_today, 1)})
    counts: dict[str, int] = defaultdict(int)
    for rep in reps:
        counts[rep.status_text] += 1
    return {
        "team": team,
        "reps": rows,
        "given_today": given_today,
        "counts": dict(counts),
        "skip_outside_hours": TeamRouting.objects.filter(team=team, skip_outside_hours=True).exists(),
        "queue": routing_queue([team.pk]),
        "refused": owner_refusals([team.pk]),
    }

