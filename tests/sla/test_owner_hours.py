"""Whose hours count: one calendar per person (their own, else their team's, else the default) is where and when
they work — the zone and hours of their clocks, and the zone their pages, digests and mails speak."""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from handoff.models import MilestoneKind, Team
from handoff.selectors.calendars import people_time_zones
from handoff.selectors.sla import business_time_left
from handoff.services.handoffs import (
    Decision,
    handoff_dispute,
    handoff_qualify,
    handoff_reject,
    handoff_resolve,
)
from tests.factories import make_lead
from tests.views.conftest import browser  # noqa: F401,F811 - a signed-in browser per member of the cast

from .conftest import clock, local, make_calendar, use_calendar, utc

pytestmark = pytest.mark.django_db
K = MilestoneKind
NY = "America/New_York"


@pytest.fixture
def team_in_new_york(cast, policy):
    """The rep's team works New York hours with US public holidays; the rep has no calendar of their own."""
    calendar = make_calendar("Americas · New York", NY, country="US")
    Team.objects.filter(pk=cast.team.pk).update(calendar=calendar)
    return calendar


def hot(cast, at):
    lead = make_lead(owner=cast.rep, lead_source="Demo Request")
    return handoff_qualify(lead=lead, actor=cast.actor("marketer"), at=at)


def test_a_rep_without_a_calendar_works_their_teams_hours_in_their_teams_zone(cast, team_in_new_york):
    # Monday 08:00 in New York (12:00 UTC, when a UTC calendar would be open): the clock starts at 09:00 New York.
    handoff = hot(cast, local("2026-03-09 08:00", NY))

    assert clock(handoff, K.ACCEPT).due_at == local("2026-03-09 09:15", NY)
    assert people_time_zones([cast.rep.pk, cast.manager.pk]) == {
        cast.rep.pk: ZoneInfo(NY), cast.manager.pk: ZoneInfo(NY)
    }


def test_a_reps_own_calendar_overrides_the_teams_for_the_clocks_and_the_zone(cast, team_in_new_york):
    use_calendar(cast.rep, make_calendar("Berlin", "Europe/Berlin", country="DE"))

    handoff = hot(cast, local("2026-03-09 08:00", NY))  # 13:00 in Berlin: open

    assert clock(handoff, K.ACCEPT).due_at == utc("2026-03-09 12:15")
    assert people_time_zones([cast.rep.pk])[cast.rep.pk] == ZoneInfo("Europe/Berlin")


def test_an_overturn_at_night_starts_fresh_clocks_at_the_owners_next_opening(cast, team_in_new_york, time_machine):
    handoff = hot(cast, local("2026-03-09 10:00", NY))
    handoff_reject(handoff=handoff, actor=cast.actor("rep"), reason="student", at=local("2026-03-09 10:05", NY))
    handoff_dispute(handoff=handoff, actor=cast.actor("marketer"), reason="meets_definition",
                    at=local("2026-03-09 11:00", NY))
    overturned_at = utc("2026-03-10 04:44")  # 00:44 in New York: nobody works
    time_machine.move_to(overturned_at, tick=False)

    handoff_resolve(handoff=handoff, actor=cast.actor("manager"), decision=Decision.OVERTURN, at=overturned_at)

    fresh = clock(handoff, K.ACCEPT, round=2)
    assert fresh.due_at == local("2026-03-10 09:15", NY)
    assert business_time_left(fresh, overturned_at) == timedelta(minutes=15)


def test_pages_show_times_in_the_readers_calendar_zone_and_say_which(cast, team_in_new_york, browser, time_machine):  # noqa: F811
    time_machine.move_to(utc("2026-03-09 15:00"), tick=False)
    handoff = hot(cast, utc("2026-03-09 14:30"))

    text = browser("rep").get(reverse("lead_detail", args=[handoff.lead_id])).text

    assert "Times in New York (EDT)" in text
    assert "Mar 9, 10:30 EDT" in text  # handed over, in New York time with its zone
    assert "Mar 9, 10:45 EDT" in text  # the accept deadline
