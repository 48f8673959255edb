"""Reads of business calendars: whose hours count for a handoff, and the calendars themselves, built once.

The hours that count for a handoff are its owner's: the rep's own calendar, else the rep's team's, else the
default calendar (the team queue's too). A calendar is also the one answer to "where does this person work": its
zone is the zone of their clocks, their morning digest, their Monday mail and the times their pages show.
"""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import F, Subquery
from django.db.models.functions import Coalesce

from handoff import businesstime
from handoff.models import BusinessCalendar, CalendarDay, RepProfile


def calendars_load(ids: Iterable[int]) -> dict[int, businesstime.Calendar]:
    """The business-time calendars of these BusinessCalendar ids, in two queries."""
    ids = set(ids)
    days: dict[int, list] = defaultdict(list)
    for calendar_id, day, hours in CalendarDay.objects.filter(calendar_id__in=ids).values_list(
        "calendar_id", "date", "hours"
    ):
        days[calendar_id].append((day, hours))
    return {
        row["pk"]: businesstime.calendar_from_values(
            time_zone=row["time_zone"],
            weekly_hours=row["weekly_hours"],
            holiday_country=row["holiday_country"],
            holiday_subdivision=row["holiday_subdivision"],
            days=days[row["pk"]],
        )
        for row in BusinessCalendar.objects.filter(pk__in=ids).values(
            "pk", "time_zone", "weekly_hours", "holiday_country", "holiday_subdivision"
        )
    }


def default_calendar_id() -> int | None:
    return BusinessCalendar.objects.filter(is_default=True).values_list("pk", flat=True).first()


def owner_calendar_ids(owner_ids: Iterable[int | None]) -> dict[int | None, int | None]:
    """owner id → calendar id: the rep's calendar, else the rep's team's, else the default (also for the queue).

    None only when no calendar applies at all (no default marked): such handoffs get no clocks.
    """
    owner_ids = list(owner_ids)
    default = default_calendar_id()
    found: dict[int | None, int | None] = {None: default}
    for user_id, own, team in RepProfile.objects.filter(user_id__in={o for o in owner_ids if o}).values_list(
        "user_id", "calendar_id", "team__calendar_id"
    ):
        found[user_id] = own or team or default
    return {owner: found.get(owner, default) for owner in owner_ids}


def owner_calendar(owner_id: int | None) -> businesstime.Calendar | None:
    """The calendar whose hours count for a handoff of this owner (None for no owner: the queue's), if any."""
    calendar_id = owner_calendar_ids([owner_id])[owner_id]
    return None if calendar_id is None else calendars_load([calendar_id])[calendar_id]


def people_time_zones(user_ids: Iterable[int]) -> dict[int, zoneinfo.ZoneInfo]:
    """user id → the zone of the calendar they work by (own, team's, default); TIME_ZONE when none applies.

    One query, whatever the number of people: a page asks it for its reader on every request.
    """
    user_ids = set(user_ids)
    default = BusinessCalendar.objects.filter(is_default=True).values("time_zone")[:1]
    zones = dict(
        get_user_model()
        .objects.filter(pk__in=user_ids)
        .annotate(zone=Coalesce(F("profile__calendar__time_zone"), F("profile__team__calendar__time_zone"),
                                Subquery(default)))
        .values_list("pk", "zone")
    )
    fallback = settings.TIME_ZONE
    return {pk: zoneinfo.ZoneInfo(zones.get(pk) or fallback) for pk in user_ids}


def person_time_zone(user) -> zoneinfo.ZoneInfo:
    """The zone a signed-in person works in (see `people_time_zones`); TIME_ZONE for an anonymous one."""
    if not getattr(user, "pk", None):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)
    return people_time_zones([user.pk])[user.pk]
