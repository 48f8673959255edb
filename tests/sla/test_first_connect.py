"""The first connected touch: an attempt is not a connection, so the first-touch clock also records when the rep first
reached the lead and the business time to it, paused time excluded (the reports' median and P90 to first connect)."""
from __future__ import annotations

import pytest

from handoff.models import MilestoneKind
from handoff.services.handoffs import (
    handoff_accept,
    handoff_dispute,
    handoff_pause,
    handoff_qualify,
    handoff_reject,
    handoff_resolve,
    handoff_resume,
    handoff_touch,
)
from tests.factories import make_lead

from .conftest import clock, utc

K = MilestoneKind
pytestmark = pytest.mark.django_db


@pytest.fixture
def at(time_machine):
    """`at("2026-03-09 10:00")` stops the clock there (UTC; the default calendar is Mon–Fri 09:00–17:00 UTC)."""

    def move(text: str):
        moment = utc(text)
        time_machine.move_to(moment, tick=False)
        return moment

    return move


@pytest.fixture
def accepted(cast, policy, utc_calendar, at):
    """Handed over Monday 9 March 09:00, accepted 09:30."""
    at("2026-03-09 09:00")
    handoff = handoff_qualify(lead=make_lead(owner=cast.rep), actor=cast.actor("marketer"))
    at("2026-03-09 09:30")
    return handoff_accept(handoff=handoff, actor=cast.actor("rep"))


def touch(cast, handoff, outcome: str, **kwargs):
    return handoff_touch(handoff=handoff, actor=cast.actor("rep"), kind="call", outcome=outcome, **kwargs)


def test_a_first_touch_that_connects_is_the_first_connect_too(cast, accepted, at):
    at("2026-03-09 10:15")
    touch(cast, accepted, "connected")

    first = clock(accepted, K.FIRST_TOUCH)
    assert first.business_seconds_taken == first.business_seconds_to_connect == 75 * 60
    assert first.connected_at == utc("2026-03-09 10:15")


def test_an_attempt_is_not_a_connection(cast, accepted, at):
    at("2026-03-09 10:00")
    touch(cast, accepted, "attempt")
    at("2026-03-10 10:00")
    touch(cast, accepted, "connected")

    first = clock(accepted, K.FIRST_TOUCH)
    assert first.business_seconds_taken == 3600
    assert first.business_seconds_to_connect == 9 * 3600  # Monday 09:00–17:00 and Tuesday 09:00–10:00


def test_business_time_paused_between_is_left_out(cast, accepted, at):
    at("2026-03-09 10:00")
    touch(cast, accepted, "attempt")
    at("2026-03-09 11:00")
    handoff_pause(handoff=accepted, actor=cast.actor("rep"))
    at("2026-03-10 11:00")
    handoff_resume(handoff=accepted, actor=cast.actor("rep"))
    at("2026-03-10 12:00")
    touch(cast, accepted, "connected")

    # 2 h before the pause, 1 h after it; the 8 business hours paused do not count.
    assert clock(accepted, K.FIRST_TOUCH).business_seconds_to_connect == 3 * 3600


def test_after_every_clock_is_met_the_time_runs_on_from_the_last_one(cast, accepted, at):
    for hour in (10, 11, 12, 13, 14):  # the five attempts meet the follow-up clock at 14:00
        at(f"2026-03-09 {hour}:00")
        touch(cast, accepted, "attempt")
    assert clock(accepted, K.FOLLOW_UP).met_at == utc("2026-03-09 14:00")
    at("2026-03-10 10:00")
    touch(cast, accepted, "connected")

    assert clock(accepted, K.FIRST_TOUCH).business_seconds_to_connect == 9 * 3600


def test_only_the_first_connection_counts_even_one_logged_after_the_fact(cast, accepted, at):
    at("2026-03-09 12:00")
    touch(cast, accepted, "connected")
    at("2026-03-09 15:00")
    touch(cast, accepted, "connected")
    assert clock(accepted, K.FIRST_TOUCH).connected_at == utc("2026-03-09 12:00")

    at("2026-03-09 15:30")
    touch(cast, accepted, "connected", at=utc("2026-03-09 11:00"))  # called at 11:00, logged now
    first = clock(accepted, K.FIRST_TOUCH)
    assert (first.connected_at, first.business_seconds_to_connect) == (utc("2026-03-09 11:00"), 2 * 3600)


def test_after_an_overturned_dispute_the_time_counts_from_the_new_hand_over(cast, policy, utc_calendar, at):
    at("2026-03-09 09:00")
    handoff = handoff_qualify(lead=make_lead(owner=cast.rep), actor=cast.actor("marketer"))
    at("2026-03-09 09:30")
    handoff_reject(handoff=handoff, actor=cast.actor("rep"), reason="student")
    handoff_dispute(handoff=handoff, actor=cast.actor("marketer"), reason="meets_definition")
    at("2026-03-09 13:00")
    handoff_resolve(handoff=handoff, actor=cast.actor("manager"), decision="overturn")
    at("2026-03-09 13:30")
    handoff_accept(handoff=handoff, actor=cast.actor("rep"))
    at("2026-03-09 14:00")
    touch(cast, handoff, "connected")

    assert clock(handoff, K.FIRST_TOUCH, round=2).business_seconds_to_connect == 3600
    assert clock(handoff, K.FIRST_TOUCH, round=1).connected_at is None
