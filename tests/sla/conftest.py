"""SLA fixtures: calendars in named zones, a policy with simple windows, and handy clock lookups."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from handoff.models import BusinessCalendar, Milestone, RepProfile, SlaPolicy

NINE_TO_FIVE = [[["09:00", "17:00"]] for _ in range(5)] + [[], []]


def local(text: str, zone: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def utc(text: str) -> datetime:
    return local(text, "UTC")


def make_calendar(name: str, zone: str, *, country: str = "", default: bool = False, **extra) -> BusinessCalendar:
    if default:
        BusinessCalendar.objects.filter(is_default=True).update(is_default=False)
    return BusinessCalendar.objects.create(
        name=name, time_zone=zone, weekly_hours=NINE_TO_FIVE, holiday_country=country, is_default=default, **extra
    )


def use_calendar(user, calendar: BusinessCalendar) -> None:
    RepProfile.objects.filter(user=user).update(calendar=calendar)


def clock(handoff, kind: str, round: int = 1) -> Milestone:
    return Milestone.objects.get(handoff=handoff, kind=kind, round=round)


@pytest.fixture
def policy(db) -> SlaPolicy:
    """The migration's v1 policy: hot 15 min / standard 24 h accept, first touch 2 h, 5 attempts in 56 h, 75 %."""
    return SlaPolicy.objects.get(is_active=True)


@pytest.fixture
def utc_calendar(db) -> BusinessCalendar:
    """The default calendar, Mon–Fri 09:00–17:00 UTC."""
    return BusinessCalendar.objects.get(is_default=True)
