"""The Monday summary mail: each manager, at 08:00 in their own zone, gets last week's headline figures of their teams
beside the week before's, with a link to the report; once per manager and week, through the notice outbox."""
from __future__ import annotations

from datetime import UTC, date, datetime
from unittest import mock

import pytest
from django.core import mail

from handoff.models import RepProfile, WeeklySummary
from handoff.services import handoffs as machine
from handoff.services.reports import report_weekly_summaries_create, report_weekly_summaries_send
from tests.factories import make_lead, zone_calendar

pytestmark = pytest.mark.django_db
NY, BERLIN = "America/New_York", "Europe/Berlin"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def at(time_machine):
    def move(text: str) -> datetime:
        moment = utc(text)
        time_machine.move_to(moment, tick=False)
        return moment

    return move


@pytest.fixture
def two_weeks(cast, at):
    """Team EMEA (Mia, New York): one lead the week of 2 March, accepted in 1 h; two the week of 9 March, one
    accepted in 30 min, one rejected in 1 h. Team Americas (Otto, Berlin): one lead the week of 9 March."""
    # Where a manager works is their calendar: its zone is the zone of their Monday 08:00.
    RepProfile.objects.filter(user=cast.manager).update(calendar=zone_calendar(NY))
    RepProfile.objects.filter(user=cast.other_manager).update(calendar=zone_calendar(BERLIN))
    rep, marketer = cast.actor("rep"), cast.actor("marketer")

    def handed(owner=cast.rep):
        return machine.handoff_qualify(lead=make_lead(owner=owner), actor=marketer)

    at("2026-03-03 10:00")
    first = handed()
    at("2026-03-03 11:00")
    machine.handoff_accept(handoff=first, actor=rep)
    at("2026-03-09 09:00")
    accepted, rejected = handed(), handed()
    handed(cast.other_rep)
    at("2026-03-09 09:30")
    machine.handoff_accept(handoff=accepted, actor=rep)
    at("2026-03-09 10:00")
    machine.handoff_reject(handoff=rejected, actor=rep, reason="student")


def test_each_manager_is_written_to_at_eight_on_monday_in_their_own_zone(cast, two_weeks, at):
    # Monday 16 March: 08:00 is 07:00 UTC in Berlin (CET) and 12:00 UTC in New York (EDT since 8 March).
    at("2026-03-16 06:59")
    assert report_weekly_summaries_create().made == 0
    at("2026-03-16 07:00")
    assert report_weekly_summaries_create().made == 1
    assert list(WeeklySummary.objects.values_list("manager__username", "week")) == [
        ("otto.manager", date(2026, 3, 9))
    ]
    at("2026-03-16 11:59")
    assert report_weekly_summaries_create().made == 0
    at("2026-03-16 12:00")
    assert report_weekly_summaries_create().made == 1
    assert WeeklySummary.objects.filter(manager=cast.manager, week=date(2026, 3, 9)).exists()


def test_once_per_manager_and_week_however_often_the_job_runs(cast, two_weeks, at):
    at("2026-03-16 12:00")
    report_weekly_summaries_create()
    at("2026-03-16 12:15")
    again = report_weekly_summaries_create()
    at("2026-03-16 23:45")
    late = report_weekly_summaries_create()

    assert (again.made, late.made) == (0, 0)
    assert WeeklySummary.objects.count() == 2
    report_weekly_summaries_send()
    report_weekly_summaries_send()
    assert sorted(m.to[0] for m in mail.outbox) == [cast.manager.email, cast.other_manager.email]


def test_not_on_another_day_and_the_next_monday_brings_the_next_week(cast, two_weeks, at):
    at("2026-03-17 12:00")  # Tuesday: a Monday missed is not made up (the report page has it)
    assert report_weekly_summaries_create().made == 0
    at("2026-03-23 12:00")
    assert report_weekly_summaries_create().made == 2
    assert set(WeeklySummary.objects.values_list("week", flat=True)) == {date(2026, 3, 16)}


def test_the_mail_sets_last_weeks_figures_beside_the_week_before_and_links_the_report(cast, two_weeks, at):
    at("2026-03-16 12:00")
    report_weekly_summaries_create()
    summary = WeeklySummary.objects.get(manager=cast.manager)
    rows = {row["key"]: row for row in summary.figures["rows"]}

    assert summary.figures["teams"] == ["EMEA"]
    assert (rows["handoffs"]["this"], rows["handoffs"]["before"], rows["handoffs"]["change"]) == (2, 1, 1)
    assert (rows["accepted_pct"]["this"], rows["accepted_pct"]["before"], rows["accepted_pct"]["better"]) == (
        50.0, 100.0, False
    )
    # Business hours to accept or reject: 0.5 h and 1 h last week, 1 h the week before: faster is better.
    assert (rows["accept_median_h"]["this"], rows["accept_median_h"]["change"],
            rows["accept_median_h"]["better"]) == (0.75, -0.25, True)
    assert (rows["acceptance_rate_pct"]["this"], rows["acceptance_rate_pct"]["before"]) == (50.0, 100.0)

    result = report_weekly_summaries_send()
    assert result.sent == 2
    message = next(m for m in mail.outbox if m.to == [cast.manager.email])
    assert message.subject == "Your team's week of Mar 9, 2026: who kept the agreement"
    assert "MQLs handed over: 2 (week before: 1; +1, better)" in message.body
    assert "Median business hours to accept or reject: 0.75 h (week before: 1.0 h; −0.25 h, better)" in message.body
    link = "http://127.0.0.1:8000/reports/?period=custom&start=2026-03-09&end=2026-03-15&group_by=rep"
    assert link in message.body
    html, kind = message.alternatives[0]
    assert kind == "text/html" and link.replace("&", "&amp;") in html
    assert WeeklySummary.objects.get(manager=cast.manager).status == "sent"


def test_a_failed_delivery_is_retried_and_never_doubled(cast, two_weeks, at):
    at("2026-03-16 12:00")
    report_weekly_summaries_create()
    with mock.patch("handoff.services.notifications.send_mail", side_effect=OSError("SMTP down")):
        first = report_weekly_summaries_send()
    assert (first.sent, first.retrying) == (0, 2)
    assert set(WeeklySummary.objects.values_list("status", "attempts")) == {("pending", 1)}

    at("2026-03-16 12:01")  # the first retry waits a minute
    assert report_weekly_summaries_send().sent == 2
    at("2026-03-16 13:00")
    assert report_weekly_summaries_send().sent == 0
    assert len(mail.outbox) == 2


def test_the_sender_is_queued_once_the_mails_are_written(cast, two_weeks, at, django_capture_on_commit_callbacks):
    at("2026-03-16 12:00")
    with mock.patch("handoff.services.jobs._send") as send, django_capture_on_commit_callbacks(execute=True):
        report_weekly_summaries_create()

    assert [call.args[0] for call in send.call_args_list] == ["handoff.reports_send_weekly_summaries"]


def test_a_manager_without_a_team_or_an_inactive_one_gets_no_mail(cast, two_weeks, at):
    cast.other_team.manager = None
    cast.other_team.save()
    cast.manager.is_active = False
    cast.manager.save()
    at("2026-03-16 12:00")

    assert report_weekly_summaries_create().made == 0
