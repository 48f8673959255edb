"""A touch logged after the fact counts from when it happened, but cannot be dated to game the SLA.

Reps call first and log later: a touch may carry the time it happened, if that is after the lead was handed
over, not in the future, and within TOUCH_BACKDATE_BUSINESS_HOURS of the owner's business time. Both times are
kept: when it happened (the clocks count from it) and when it was logged (reports show touches logged late).
"""

from __future__ import annotations

import pytest
import time_machine
from django.test import override_settings
from rest_framework.test import APIClient

from handoff.exceptions import InvalidInput
from handoff.models import HandoffEvent, MilestoneKind, Touch
from handoff.services.handoffs import handoff_accept, handoff_qualify, handoff_touch
from tests.factories import make_lead

from .conftest import clock, local, make_calendar, use_calendar, utc

K = MilestoneKind


def accepted_at(cast, at):
    handoff = handoff_qualify(lead=make_lead(owner=cast.rep), actor=cast.actor("marketer"), at=at)
    return handoff_accept(handoff=handoff, actor=cast.actor("rep"), at=at)


def log_touch(cast, handoff, at, **kwargs):
    return handoff_touch(handoff=handoff, actor=cast.actor("rep"), kind="call", outcome="attempt", at=at, **kwargs)


def test_a_touch_before_the_lead_was_handed_over_is_refused_and_meets_no_clock(cast, policy, utc_calendar):
    handoff = accepted_at(cast, utc("2026-03-02 10:00"))
    with time_machine.travel(utc("2026-03-09 10:00"), tick=False):
        with pytest.raises(InvalidInput) as refused:
            log_touch(cast, handoff, utc("2001-01-01 00:00"))
    assert refused.value.field == "at" and "handed over" in refused.value.message
    assert clock(handoff, K.FIRST_TOUCH).met_at is None
    assert not Touch.objects.exists()
    assert not HandoffEvent.objects.filter(handoff=handoff, action="touch").exists()


def test_a_touch_in_the_future_is_refused(cast, policy, utc_calendar):
    handoff = accepted_at(cast, utc("2026-03-09 10:00"))
    with time_machine.travel(utc("2026-03-09 11:00"), tick=False):
        with pytest.raises(InvalidInput) as refused:
            log_touch(cast, handoff, utc("2026-03-09 11:00:01"))
    assert refused.value.field == "at" and "future" in refused.value.message


def test_a_touch_older_than_the_window_in_business_hours_is_refused(cast, policy, utc_calendar):
    # Handed over Monday 09:00; logged Thursday 10:00. 24 business hours (three days of 09–17) before that is
    # Monday 10:00: a touch at 09:59 is outside the window, one at 10:00 inside it.
    handoff = accepted_at(cast, utc("2026-03-09 09:00"))
    with time_machine.travel(utc("2026-03-12 10:00"), tick=False):
        with pytest.raises(InvalidInput) as refused:
            log_touch(cast, handoff, utc("2026-03-09 09:59"))
        assert refused.value.field == "at" and "24 business hours" in refused.value.message
        log_touch(cast, handoff, utc("2026-03-09 10:00"))
    assert clock(handoff, K.FIRST_TOUCH).met_at == utc("2026-03-09 10:00")


def test_the_window_counts_the_owners_business_hours_not_the_wall_clock(cast, policy):
    # A Friday-evening call in New York logged on Monday morning: 60 wall-clock hours, under 2 business hours.
    new_york = make_calendar("New York", "America/New_York", country="US")
    use_calendar(cast.rep, new_york)
    handoff = accepted_at(cast, local("2026-03-13 16:00", "America/New_York"))
    with time_machine.travel(local("2026-03-16 09:30", "America/New_York"), tick=False):
        log_touch(cast, handoff, local("2026-03-13 16:45", "America/New_York"))
    with override_settings(TOUCH_BACKDATE_BUSINESS_HOURS=1):
        with time_machine.travel(local("2026-03-16 10:30", "America/New_York"), tick=False):
            with pytest.raises(InvalidInput, match="at most 1 business hours"):
                log_touch(cast, handoff, local("2026-03-13 16:50", "America/New_York"))


def test_a_touch_logged_late_keeps_when_it_happened_and_when_it_was_logged(cast, policy, utc_calendar):
    handoff = accepted_at(cast, utc("2026-03-09 10:00"))
    with time_machine.travel(utc("2026-03-09 15:00"), tick=False):
        log_touch(cast, handoff, utc("2026-03-09 10:30"))
        log_touch(cast, handoff, None)
    late, on_time = Touch.objects.order_by("at")
    assert (late.at, late.logged_at, late.logged_after.total_seconds()) == (
        utc("2026-03-09 10:30"),
        utc("2026-03-09 15:00"),
        4.5 * 3600,
    )
    assert on_time.at == on_time.logged_at == utc("2026-03-09 15:00")
    late_event, on_time_event = HandoffEvent.objects.filter(handoff=handoff, action="touch").order_by("at")
    assert late_event.at == utc("2026-03-09 10:30")
    assert late_event.data == {"kind": "call", "outcome": "attempt", "logged_at": "2026-03-09T15:00:00+00:00"}
    assert on_time_event.data == {"kind": "call", "outcome": "attempt"}
    first = clock(handoff, K.FIRST_TOUCH)
    assert (first.met_at, first.business_seconds_taken) == (utc("2026-03-09 10:30"), 30 * 60)


def test_the_api_refuses_a_touch_dated_before_the_handover_and_accepts_one_logged_late(cast, policy):
    handoff = accepted_at(cast, utc("2026-03-09 10:00"))
    rep = APIClient()
    rep.force_authenticate(cast.rep)
    with time_machine.travel(utc("2026-03-09 12:00"), tick=False):
        url = f"/api/handoffs/{handoff.pk}/touch/"
        refused = rep.post(url, {"kind": "call", "outcome": "attempt", "at": "2001-01-01T00:00:00Z"})
        assert refused.status_code == 400 and refused.json()["field"] == "at"
        taken = rep.post(url, {"kind": "call", "outcome": "connected", "at": "2026-03-09T06:30:00-05:00"})
        assert taken.status_code == 200
    handoff.refresh_from_db()
    assert handoff.first_touch_at == handoff.first_connect_at == utc("2026-03-09 11:30")
