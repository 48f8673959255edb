"""Reads of routing: the rules in force, each team's reps as routing sees them right now, the team queues."""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from handoff import businesstime
from handoff.models import (
    AwayPeriod,
    Handoff,
    HandoffRouting,
    RepProfile,
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


def routing_pool(team_ids: Iterable[int], at: datetime) -> dict[int, list[RepState]]:
    """team id → its sales reps as routing sees them at `at`, in user id order (the round robin's tie-break).

    Counts are read as they stand: the routing pass calls this after locking the reps' routing rows, so a pass that
    waited for another sees what that one wrote.
    """
    team_ids = set(team_ids)
    # One read for who they are, their share and counts (their routing row, if any) and whose calendar they keep.
    share_fields = ("weight", "daily_cap", "open_cap", "credit", "assigned")
    profiles = list(
        RepProfile.objects.filter(team_id__in=team_ids, user__groups__name=Role.SALES_REP)
        .values("user_id", "team_id", "team__name", "is_active", "user__is_active", "user__username",
                "user__first_name", "user__last_name", "calendar_id", "team__calendar_id",
                "user__routing__user_id", *(f"user__routing__{name}" for name in share_fields),
                open_n=Coalesce(Subquery(
                    Handoff.objects.filter(owner_id=OuterRef("user_id"), state__in=OPEN_STATES)
                    .order_by().values("owner_id").annotate(n=Count("id")).values("n")
                ), 0),
                team_skips_off_hours=F("team__routing__skip_outside_hours"))
        .distinct()
        .order_by("user_id")
    )
    ids = [p["user_id"] for p in profiles]
    shares = {
        p["user_id"]: {name: p[f"user__routing__{name}"] for name in share_fields}
        for p in profiles
        if p["user__routing__user_id"] is not None
    }
    # The rep's calendar, else their team's, else the default (selectors.calendars.owner_calendar_ids's rule).
    default = default_calendar_id() if any(not (p["calendar_id"] or p["team__calendar_id"]) for p in profiles) else None
    calendar_of = {p["user_id"]: p["calendar_id"] or p["team__calendar_id"] or default for p in profiles}
    calendars = calendars_load({c for c in calendar_of.values() if c is not None})
    fallback = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    days = {}
    for user_id in ids:
        calendar = calendars.get(calendar_of.get(user_id))
        days[user_id] = at.astimezone(calendar.tz if calendar is not None else fallback).date()
    today = {
        (user_id, day): n
        for user_id, day, n in RepRoutingDay.objects.filter(user_id__in=ids, day__in=set(days.values())).values_list(
            "user_id", "day", "assigned"
        )
    }
    open_ = {p["user_id"]: p["open_n"] for p in profiles}
    away: dict[int, date] = {}
    if ids:
        for user_id, starts, ends in AwayPeriod.objects.filter(
            user_id__in=ids, ends_on__gte=min(days.values()), starts_on__lte=max(days.values())
        ).values_list("user_id", "starts_on", "ends_on"):
            if starts <= days[user_id] <= ends:
                away[user_id] = max(away.get(user_id, ends), ends)
    outside_hours = {p["team_id"] for p in profiles if p["team_skips_off_hours"]}
    pool: dict[int, list[RepState]] = {team_id: [] for team_id in team_ids}
    for p in profiles:
        user_id = p["user_id"]
        share = shares.get(user_id, {})
        calendar = calendars.get(calendar_of.get(user_id))
        skip = None
        if not (p["is_active"] and p["user__is_active"]):
            skip = "inactive"
        elif user_id in away:
            skip = "away"
        elif p["team_id"] in outside_hours and calendar is not None and not businesstime.is_open(at, calendar):
            skip = "off_hours"
        pool[p["team_id"]].append(
            RepState(
                user_id=user_id,
                username=p["user__username"],
                name=" ".join(n for n in (p["user__first_name"], p["user__last_name"]) if n) or p["user__username"],
                team_id=p["team_id"],
                weight=share.get("weight", 1),
                daily_cap=share.get("daily_cap"),
                open_cap=share.get("open_cap"),
                credit=share.get("credit", 0),
                assigned=share.get("assigned", 0),
                today=today.get((user_id, days[user_id]), 0),
                open=open_.get(user_id, 0),
                day=days[user_id],
                away_until=away.get(user_id),
                skip=skip,
                team_name=p["team__name"],
                calendar_id=calendar_of.get(user_id),
                calendar=calendar,
            )
        )
    return pool


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
