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

CALENDAR_FIELDS = ("time_zone", "weekly_hours", "holiday_country", "holiday_subdivision")


def calendars_load(ids: Iterable[int]) -> dict[int, businesstime.Calendar]:
    """The business-time calendars of these BusinessCalendar ids, in two queries."""
    stored = BusinessCalendar.objects.filter(pk__in=set(ids)).values_list("pk", *CALENDAR_FIELDS)
    return calendars_of({pk: dict(zip(CALENDAR_FIELDS, values, strict=True)) for pk, *values in stored})


def calendars_of(stored: dict[int, dict]) -> dict[int, businesstime.Calendar]:
    """Business-time calendars from their `CALENDAR_FIELDS` (by id), read with something else, and their exception
    days (one query)."""
    days: dict[int, list] = defaultdict(list)
    if stored:
        for calendar_id, day, hours in CalendarDay.objects.filter(calendar_id__in=list(stored)).values_list(
            "calendar_id", "date", "hours"
        ):
            days[calendar_id].append((day, hours))
    return {pk: businesstime.calendar_from_values(**fields, days=days[pk]) for pk, fields in stored.items()}


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


def zone_of_user() -> Coalesce:
    """The zone a user works in, as an expression on the user model: their calendar's, else their team's, else the
    default calendar's (NULL when none applies)."""
    default = BusinessCalendar.objects.filter(is_default=True).values("time_zone")[:1]
    return Coalesce(F("profile__calendar__time_zone"), F("profile__team__calendar__time_zone"), Subquery(default))


def people_time_zones(user_ids: Iterable[int]) -> dict[int, zoneinfo.ZoneInfo]:
    """user id → the zone of the calendar they work by (own, team's, default); TIME_ZONE when none applies.

    One query, whatever the number of people: a page asks it for its reader on every request.
    """
    user_ids = set(user_ids)
    users = get_user_model().objects.filter(pk__in=user_ids)
    zones = dict(users.annotate(zone=zone_of_user()).values_list("pk", "zone"))
    fallback = settings.TIME_ZONE
    return {pk: zoneinfo.ZoneInfo(zones.get(pk) or fallback) for pk in user_ids}


_ZONE_CACHE = "_handoff_time_zone"


def person_time_zone(user) -> zoneinfo.ZoneInfo:
    """The zone a signed-in person works in (see `people_time_zones`); TIME_ZONE for an anonymous one. Read once per
    user object (none when the sign-in read it with the user: `remember_time_zone`)."""
    if not getattr(user, "pk", None):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)
    zone = getattr(user, _ZONE_CACHE, None)
    if zone is None:
        zone = people_time_zones([user.pk])[user.pk]
        remember_time_zone(user, zone)
    return zone


def remember_time_zone(user, zone: zoneinfo.ZoneInfo) -> None:
    setattr(user, _ZONE_CACHE, zone)
