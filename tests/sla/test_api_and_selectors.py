"""The API shows each handoff's clocks and filters by breach and deadline; selectors word the time left."""
from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from handoff.models import MilestoneKind
from handoff.models.sla import NotificationKind
from handoff.selectors.sla import business_time_left, business_time_text, by_urgency, deadlines
from handoff.services.handoffs import handoff_qualify
from handoff.services.sla import sla_scan
from tests.factories import make_lead

from .conftest import clock, utc

K = MilestoneKind


@pytest.fixture
def pair(cast, policy, utc_calendar):
    """A hot lead (accept due 09:15) and a standard one (accept due Wednesday 17:00), handed over Monday 09:00."""
    hot = handoff_qualify(lead=make_lead(owner=cast.rep, lead_source="Demo Request"), actor=cast.actor("marketer"),
                          at=utc("2026-03-09 09:00"))
    standard = handoff_qualify(lead=make_lead(owner=cast.rep), actor=cast.actor("marketer"),
                               at=utc("2026-03-09 09:00"))
    sla_scan(kind=NotificationKind.BREACH, now=utc("2026-03-09 10:00"))
    return hot, standard


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_handoffs_in_the_api_carry_their_milestones(cast, pair):
    body = api_for(cast.rep).get(f"/api/handoffs/{pair[0].pk}/").json()
    accept = next(m for m in body["milestones"] if m["kind"] == "accept")
    assert accept["segment"] == "hot" and accept["policy_version"] == 1
    assert accept["is_breach"] is True and accept["breached_at"].startswith("2026-03-09T09:15")


def test_the_api_filters_breached_handoffs_and_those_due_before_a_moment(cast, pair):
    client = api_for(cast.rep)
    ids = lambda query: {h["id"] for h in client.get(f"/api/handoffs/?{query}").json()["results"]}  # noqa: E731
    assert ids("breached=true") == {pair[0].pk}
    assert ids("breached=false") == {pair[1].pk}
    assert ids("due_before=2026-03-09T09:10:00Z") == set()
    assert ids("due_before=2026-03-09T10:30:00Z") == {pair[0].pk}  # overdue since 09:15, still unmet
    assert ids("due_before=2026-03-09T11:30:00Z") == {pair[0].pk, pair[1].pk}  # first touches due at 11:00


def test_business_time_left_is_worded_for_people(pair):
    hot, standard = pair
    now = utc("2026-03-09 09:50")
    assert business_time_text(clock(hot, K.ACCEPT), now) == "breached 35 m ago"
    assert business_time_text(clock(standard, K.FIRST_TOUCH), now) == "1 h 10 m of business time left"
    assert business_time_left(clock(standard, K.ACCEPT), now) == timedelta(hours=23, minutes=10)
    texts = {h: text for h, (_, text) in deadlines([hot, standard], now).items()}
    assert texts == {hot.pk: "breached 35 m ago", standard.pk: "1 h 10 m of business time left"}


def test_a_list_row_brings_the_clock_deadlines_finds_and_words_it_alike(cast, pair, time_machine):
    from handoff.backends import ReaderBackend
    from handoff.models import Handoff
    from handoff.services.handoffs import handoff_accept
    from handoff.views.common import handoff_rows, with_deadlines

    hot, standard = pair
    handoff_accept(handoff=standard, actor=cast.actor("rep"), at=utc("2026-03-09 09:20"))  # accept met: touch next
    quiet = handoff_qualify(lead=make_lead(owner=cast.rep), actor=cast.actor("marketer"), at=utc("2026-03-09 09:00"))
    quiet.milestones.update(stopped_at=utc("2026-03-09 09:05"))  # no clock running
    time_machine.move_to(utc("2026-03-09 09:50"), tick=False)
    handoffs = by_urgency(Handoff.objects.filter(pk__in=[hot.pk, standard.pk, quiet.pk]))

    rows = with_deadlines(handoff_rows()(handoffs), ReaderBackend().get_user(cast.rep.pk))
    expected = deadlines(list(handoffs), utc("2026-03-09 09:50"))

    assert [row.pk for row in rows] == [hot.pk, standard.pk, quiet.pk]
    assert {row.pk: row.deadline for row in rows} == {**expected, quiet.pk: None}
    assert [row.deadline[1] if row.deadline else None for row in rows] == [
        "breached 35 m ago", "1 h 10 m of business time left", None]
    assert [row.deadline[0].kind if row.deadline else None for row in rows] == [K.ACCEPT, K.FIRST_TOUCH, None]
    assert [row.overdue for row in rows] == [True, False, False]


def test_a_calendar_changed_after_a_page_was_shown_words_the_next_page_s_deadlines(cast, pair, utc_calendar, client,
                                                                                 time_machine):
    from handoff.models import CalendarDay

    time_machine.move_to(utc("2026-03-09 09:50"), tick=False)
    client.force_login(cast.rep)
    assert "1 h 10 m of business time left" in client.get("/my-handoffs/").text  # first touch due 11:00

    CalendarDay.objects.create(calendar=utc_calendar, date=utc("2026-03-09 00:00").date(), hours=[["09:00", "10:30"]])

    listing = client.get("/my-handoffs/").text
    assert "40 m of business time left" in listing and "1 h 10 m" not in listing


def test_the_most_urgent_handoff_comes_first(cast, pair):
    from handoff.models import Handoff

    assert list(by_urgency(Handoff.objects.all()).values_list("pk", flat=True)) == [pair[0].pk, pair[1].pk]


def test_the_rep_list_shows_the_next_deadline_and_the_lead_page_every_milestone(cast, pair, client, time_machine):
    time_machine.move_to(utc("2026-03-09 09:50"), tick=False)
    client.force_login(cast.rep)
    listing = client.get("/my-handoffs/").content.decode()
    assert "breached 35 m ago" in listing and "1 h 10 m of business time left" in listing
    page = client.get(f"/leads/{pair[0].lead_id}/").content.decode()
    assert "SLA milestones" in page
    assert page.count("<td>breached 35 m ago</td>") == 1  # accept; first touch (11:00) is still ahead
    assert "Follow-up attempts" in page and "0 of 5 attempts" in page
