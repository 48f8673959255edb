"""Clocks in real calendars (DST, holidays, overnight hours), pause and resume, and reassignment across zones."""
from __future__ import annotations

import pytest
from django.utils import timezone

from handoff.exceptions import NotAllowed, WrongState
from handoff.models import BusinessCalendar, HandoffEvent, Lead, MilestoneKind, SlaPolicy
from handoff.services.actors import Actor
from handoff.services.handoffs import handoff_accept, handoff_pause, handoff_qualify, handoff_resume, handoffs_reassign
from handoff.services.sla import milestones_first_touch_by_crm_status, milestones_follow_crm_status
from tests.factories import make_lead

from .conftest import clock, local, make_calendar, use_calendar, utc

K = MilestoneKind
NY = "America/New_York"
BERLIN = "Europe/Berlin"


def qualify(cast, at, owner=None, **fields):
    lead = make_lead(owner=owner or cast.rep, **fields)
    return handoff_qualify(lead=lead, actor=cast.actor("marketer"), at=at)


@pytest.fixture
def new_york(cast, policy):
    calendar = make_calendar("New York", NY, country="US")
    use_calendar(cast.rep, calendar)
    return calendar


def test_a_clock_runs_across_the_spring_dst_change_in_local_hours(cast, new_york):
    # Friday 16:00 EST; the clocks go forward on Sunday 8 March: due Wednesday 16:00 EDT (24 business hours).
    handoff = qualify(cast, local("2026-03-06 16:00", NY))
    due = clock(handoff, K.ACCEPT).due_at
    assert due == local("2026-03-11 16:00", NY)
    assert due == utc("2026-03-11 20:00")


def test_a_clock_runs_across_the_autumn_dst_change_in_local_hours(cast, new_york):
    handoff = qualify(cast, local("2026-10-30 16:00", NY))  # clocks go back on Sunday 1 November
    assert clock(handoff, K.ACCEPT).due_at == utc("2026-11-04 21:00")  # 16:00 EST


def test_a_clock_in_berlin_skips_the_weekend_of_its_dst_change(cast, policy):
    use_calendar(cast.rep, make_calendar("Berlin", BERLIN, country="DE"))
    handoff = qualify(cast, local("2026-03-27 16:55", BERLIN), lead_source="Demo Request")  # CET → CEST on Sunday
    assert clock(handoff, K.ACCEPT).due_at == utc("2026-03-30 07:10")  # Monday 09:10 CEST


def test_us_thanksgiving_is_not_business_time(cast, new_york):
    handoff = qualify(cast, local("2026-11-25 16:50", NY), lead_source="Demo Request")
    assert clock(handoff, K.ACCEPT).due_at == local("2026-11-27 09:05", NY)


def test_a_clock_runs_through_an_overnight_shift_across_midnight(cast, policy):
    night = BusinessCalendar.objects.create(
        name="Night desk", time_zone="UTC", weekly_hours=[[["00:00", "06:00"], ["22:00", "24:00"]]] * 7
    )
    use_calendar(cast.rep, night)
    handoff = qualify(cast, utc("2026-03-09 23:50"), lead_source="Demo Request")
    assert clock(handoff, K.ACCEPT).due_at == utc("2026-03-10 00:05")
    # Qualified in the daytime gap: the clock starts at 22:00.
    later = qualify(cast, utc("2026-03-10 12:00"), lead_source="Demo Request")
    assert clock(later, K.ACCEPT).due_at == utc("2026-03-10 22:15")


def test_pausing_by_hand_keeps_the_business_time_left_and_resuming_moves_the_due_time(cast, policy, utc_calendar):
    handoff = qualify(cast, utc("2026-03-09 09:00"))
    assert clock(handoff, K.ACCEPT).due_at == utc("2026-03-11 17:00")
    handoff_pause(handoff=handoff, actor=cast.actor("rep"), note="Customer on holiday", at=utc("2026-03-09 13:00"))
    paused = clock(handoff, K.ACCEPT)
    assert paused.paused_at == utc("2026-03-09 13:00") and paused.remaining_seconds == 20 * 3600
    handoff_resume(handoff=handoff, actor=cast.actor("rep"), at=utc("2026-03-11 13:00"))
    resumed = clock(handoff, K.ACCEPT)
    assert resumed.paused_at is None
    assert resumed.due_at == utc("2026-03-13 17:00")  # 4 h Wednesday, 8 h Thursday, 8 h Friday
    handoff_accept(handoff=handoff, actor=cast.actor("rep"), at=utc("2026-03-12 09:00"))
    assert clock(handoff, K.ACCEPT).business_seconds_taken == 8 * 3600  # the paused days do not count
    assert list(HandoffEvent.objects.filter(handoff=handoff, action__in=["pause", "resume"]).values_list(
        "action", "note")) == [("pause", "Customer on holiday"), ("resume", "")]


def test_only_the_rep_or_their_manager_may_pause_and_only_running_clocks(cast, policy, utc_calendar):
    handoff = qualify(cast, utc("2026-03-09 09:00"))
    with pytest.raises(NotAllowed):
        handoff_pause(handoff=handoff, actor=cast.actor("marketer"))
    with pytest.raises(WrongState):
        handoff_resume(handoff=handoff, actor=cast.actor("manager"))
    assert clock(handoff, K.ACCEPT).paused_at is None


def test_a_crm_pause_status_pauses_the_clocks_and_leaving_it_resumes_them(cast, policy, utc_calendar):
    SlaPolicy.objects.filter(pk=policy.pk).update(pause_statuses=["Waiting on customer"])
    handoff = qualify(cast, utc("2026-03-09 09:00"))
    Lead.objects.filter(pk=handoff.lead_id).update(status="Waiting on customer")
    assert milestones_follow_crm_status(lead_ids=[handoff.lead_id], at=utc("2026-03-09 10:00")) == (3, 0)
    assert clock(handoff, K.ACCEPT).paused_by == "status"
    Lead.objects.filter(pk=handoff.lead_id).update(status="Open - Not Contacted")
    assert milestones_follow_crm_status(lead_ids=[handoff.lead_id], at=utc("2026-03-10 10:00")) == (0, 3)
    assert clock(handoff, K.ACCEPT).due_at == utc("2026-03-12 17:00")  # 23 h left from Tuesday 10:00: 7 + 8 + 8


def test_a_clock_paused_by_hand_is_not_resumed_by_a_crm_status(cast, policy, utc_calendar):
    SlaPolicy.objects.filter(pk=policy.pk).update(pause_statuses=["Waiting on customer"])
    handoff = qualify(cast, utc("2026-03-09 09:00"))
    handoff_pause(handoff=handoff, actor=cast.actor("rep"), at=utc("2026-03-09 10:00"))
    assert milestones_follow_crm_status(lead_ids=[handoff.lead_id], at=utc("2026-03-09 11:00")) == (0, 0)
    assert clock(handoff, K.ACCEPT).paused_by == "flag"


def test_a_crm_working_status_meets_first_touch_at_the_crm_change(cast, policy, utc_calendar):
    handoff = qualify(cast, utc("2026-03-09 09:00"))
    Lead.objects.filter(pk=handoff.lead_id).update(status="Working - Contacted",
                                                    crm_modified_at=utc("2026-03-09 10:30"))
    assert milestones_first_touch_by_crm_status(lead_ids=[handoff.lead_id], at=utc("2026-03-09 10:35")) == 1
    first = clock(handoff, K.FIRST_TOUCH)
    assert first.met_at == utc("2026-03-09 10:30") and first.business_seconds_taken == 90 * 60
    assert milestones_first_touch_by_crm_status(lead_ids=[handoff.lead_id]) == 0


def test_the_echo_of_the_apps_own_accept_write_back_is_not_a_touch(cast, policy, utc_calendar):
    handoff = qualify(cast, timezone.now())
    handoff_accept(handoff=handoff, actor=cast.actor("rep"))  # writes "Working - Contacted" back to the CRM
    Lead.objects.filter(pk=handoff.lead_id).update(status="Working - Contacted", crm_modified_at=timezone.now())
    assert milestones_first_touch_by_crm_status(lead_ids=[handoff.lead_id]) == 0
    assert clock(handoff, K.FIRST_TOUCH).met_at is None


def test_reassigning_to_a_rep_in_another_zone_keeps_the_business_time_left(cast, new_york):
    use_calendar(cast.other_rep, make_calendar("Berlin", BERLIN, country="DE"))
    handoff = qualify(cast, utc("2026-03-09 14:00"))  # Monday 10:00 in New York (EDT)
    handoffs_reassign(handoffs=[handoff], actor=Actor.sync(), owner=cast.other_rep, at=utc("2026-03-09 16:00"))
    accept = clock(handoff, K.ACCEPT)
    assert accept.calendar.name == "Berlin"
    # 2 h used in New York, 22 h left; Berlin is closed at 17:00 CET: Tuesday 8 h, Wednesday 8 h, Thursday 6 h.
    assert accept.due_at == local("2026-03-12 15:00", BERLIN)


def test_reassigning_leaves_an_overdue_clock_overdue(cast, new_york):
    use_calendar(cast.other_rep, make_calendar("Berlin", BERLIN))
    handoff = qualify(cast, utc("2026-03-09 14:00"), lead_source="Demo Request")
    handoffs_reassign(handoffs=[handoff], actor=Actor.sync(), owner=cast.other_rep, at=utc("2026-03-09 15:00"))
    assert clock(handoff, K.ACCEPT).due_at == utc("2026-03-09 14:15")
