"""Clocks follow the state machine: started on qualify, met on accept/reject/touch, stopped at the end."""
from __future__ import annotations

import time_machine

from handoff.models import Milestone, MilestoneKind
from handoff.services.handoffs import (
    handoff_accept,
    handoff_dispute,
    handoff_qualify,
    handoff_reject,
    handoff_resolve,
    handoff_touch,
    handoffs_recycle,
)
from tests.factories import make_lead

from .conftest import clock, local, make_calendar, use_calendar, utc

K = MilestoneKind


def qualify(cast, at, **lead_fields):
    lead = make_lead(owner=cast.rep, **lead_fields)
    return handoff_qualify(lead=lead, actor=cast.actor("marketer"), at=at)


def test_qualifying_starts_three_clocks_in_business_time_with_the_policy_version(cast, policy, utc_calendar):
    # Friday 16:00 UTC: a standard lead's 24 business hours run to Wednesday 16:00 (8 h a day, weekend skipped).
    handoff = qualify(cast, utc("2026-03-06 16:00"))
    clocks = {m.kind: m for m in Milestone.objects.filter(handoff=handoff)}
    assert set(clocks) == {K.ACCEPT, K.FIRST_TOUCH, K.FOLLOW_UP}
    accept = clocks[K.ACCEPT]
    assert accept.due_at == utc("2026-03-11 16:00")
    assert accept.remind_at == utc("2026-03-11 10:00")  # 75 % of 24 h = 18 h: 1 + 8 + 8 + 1
    assert accept.policy == policy and accept.segment == "standard" and accept.calendar == utc_calendar
    assert clocks[K.FIRST_TOUCH].due_at == utc("2026-03-09 10:00")  # 1 h on Friday, 1 h on Monday
    assert clocks[K.FOLLOW_UP].attempts_required == 5


def test_a_hot_lead_gets_fifteen_business_minutes_to_be_accepted(cast, policy, utc_calendar):
    demo = qualify(cast, utc("2026-03-09 16:50"), lead_source="Demo Request", score=10.0)
    scored = qualify(cast, utc("2026-03-09 16:50"), lead_source="Web", score=85.0)
    for handoff in (demo, scored):
        accept = clock(handoff, K.ACCEPT)
        assert accept.segment == "hot"
        assert accept.due_at == utc("2026-03-10 09:05")  # 10 minutes Monday, 5 minutes Tuesday morning


def test_qualifying_outside_hours_starts_the_clock_at_the_next_opening(cast, policy, utc_calendar):
    handoff = qualify(cast, utc("2026-03-07 11:00"), lead_source="Demo Request")  # a Saturday
    assert clock(handoff, K.ACCEPT).due_at == utc("2026-03-09 09:15")


def test_accepting_in_time_meets_the_clock_with_the_business_time_taken(cast, policy, utc_calendar):
    handoff = qualify(cast, utc("2026-03-06 16:00"))
    handoff_accept(handoff=handoff, actor=cast.actor("rep"), at=utc("2026-03-09 10:00"))
    accept = clock(handoff, K.ACCEPT)
    assert accept.met_at == utc("2026-03-09 10:00")
    assert accept.breached_at is None
    assert accept.business_seconds_taken == 2 * 3600


def test_a_breach_met_late_counts_as_a_breach_and_stores_the_business_time(cast, policy, utc_calendar):
    handoff = qualify(cast, utc("2026-03-09 16:50"), lead_source="Demo Request")
    handoff_accept(handoff=handoff, actor=cast.actor("rep"), at=utc("2026-03-10 11:00"))
    accept = clock(handoff, K.ACCEPT)
    assert accept.is_breach
    assert accept.breached_at == utc("2026-03-10 09:05")
    assert accept.business_seconds_taken == (10 + 120) * 60


def test_rejecting_meets_accept_and_stops_the_touch_clocks(cast, policy, utc_calendar):
    handoff = qualify(cast, utc("2026-03-09 10:00"))
    handoff_reject(handoff=handoff, actor=cast.actor("rep"), reason="student", at=utc("2026-03-09 11:00"))
    assert clock(handoff, K.ACCEPT).met_at == utc("2026-03-09 11:00")
    assert clock(handoff, K.FIRST_TOUCH).stopped_at == utc("2026-03-09 11:00")
    assert clock(handoff, K.FOLLOW_UP).stopped_at == utc("2026-03-09 11:00")


def test_a_touch_meets_first_touch_and_attempts_count_towards_follow_up(cast, policy, utc_calendar):
    with time_machine.travel(utc("2026-03-09 15:00"), tick=False):
        handoff = qualify(cast, utc("2026-03-09 10:00"))
        handoff_accept(handoff=handoff, actor=cast.actor("rep"), at=utc("2026-03-09 10:30"))
        for minute in range(10, 15):
            handoff_touch(handoff=handoff, actor=cast.actor("rep"), kind="call", outcome="attempt",
                          at=utc(f"2026-03-09 {minute}:00"))
            follow_up = clock(handoff, K.FOLLOW_UP)
            assert follow_up.attempts == minute - 9
            assert (follow_up.met_at is not None) == (minute == 14)
    first = clock(handoff, K.FIRST_TOUCH)
    assert first.met_at == utc("2026-03-09 10:00")
    assert first.business_seconds_taken == 0
    assert clock(handoff, K.FOLLOW_UP).met_at == utc("2026-03-09 14:00")


def test_an_overturned_dispute_gives_a_fresh_accept_clock(cast, policy, utc_calendar):
    handoff = qualify(cast, utc("2026-03-09 10:00"))
    handoff_reject(handoff=handoff, actor=cast.actor("rep"), reason="student", at=utc("2026-03-09 11:00"))
    handoff_dispute(handoff=handoff, actor=cast.actor("marketer"), reason="meets_definition",
                    at=utc("2026-03-09 12:00"))
    handoff_resolve(handoff=handoff, actor=cast.actor("manager"), decision="overturn", at=utc("2026-03-10 09:00"))
    fresh = clock(handoff, K.ACCEPT, round=2)
    assert fresh.started_at == utc("2026-03-10 09:00")
    assert fresh.due_at == utc("2026-03-12 17:00")  # 24 business hours: three 8-hour days, due at closing
    assert fresh.met_at is None and fresh.breached_at is None
    assert clock(handoff, K.FIRST_TOUCH, round=2).stopped_at is None
    assert clock(handoff, K.ACCEPT, round=1).met_at == utc("2026-03-09 11:00")


def test_an_upheld_dispute_starts_no_clock(cast, policy, utc_calendar):
    handoff = qualify(cast, utc("2026-03-09 10:00"))
    handoff_reject(handoff=handoff, actor=cast.actor("rep"), reason="student", at=utc("2026-03-09 11:00"))
    handoff_dispute(handoff=handoff, actor=cast.actor("marketer"), reason="meets_definition")
    handoff_resolve(handoff=handoff, actor=cast.actor("manager"), decision="uphold")
    assert not Milestone.objects.filter(handoff=handoff, round=2).exists()


def test_recycling_a_batch_stops_every_open_clock_in_one_go(cast, policy, utc_calendar):
    handoffs = [qualify(cast, utc("2026-03-09 10:00")) for _ in range(3)]
    for h in handoffs:
        handoff_accept(handoff=h, actor=cast.actor("rep"), at=utc("2026-03-09 10:30"))
    handoffs_recycle(handoffs=handoffs, actor=cast.actor("rep"), reason="timing", at=utc("2026-03-09 12:00"))
    still = Milestone.objects.filter(handoff__in=handoffs, met_at__isnull=True, stopped_at__isnull=True)
    assert not still.exists()
    assert Milestone.objects.filter(handoff__in=handoffs, stopped_at=utc("2026-03-09 12:00")).count() == 6


def test_the_rep_calendar_overrides_the_team_calendar_which_overrides_the_default(cast, policy, utc_calendar):
    tokyo = make_calendar("Tokyo", "Asia/Tokyo")
    new_york = make_calendar("New York", "America/New_York")
    cast.team.calendar = tokyo
    cast.team.save()
    from_team = qualify(cast, utc("2026-03-09 00:00"), lead_source="Demo Request")  # Monday 09:00 in Tokyo
    assert clock(from_team, K.ACCEPT).due_at == local("2026-03-09 09:15", "Asia/Tokyo")
    use_calendar(cast.rep, new_york)
    own = qualify(cast, utc("2026-03-09 00:00"), lead_source="Demo Request")  # Sunday 20:00 in New York
    assert clock(own, K.ACCEPT).due_at == local("2026-03-09 09:15", "America/New_York")
