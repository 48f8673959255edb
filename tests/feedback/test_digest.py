"""The daily digest: one mail per rep and working day at 09:00 in the rep's zone, every pending request with five
one-click ratings, each request in at most two digests; delivered through the notice outbox, retried, never doubled."""
from __future__ import annotations

import re
from datetime import date

import pytest
from django.core import mail

from handoff.models import CalendarDay, FeedbackDigest, FeedbackOutcome, FeedbackRequest, RepProfile, Role
from handoff.services import handoffs as machine
from handoff.services import notifications
from handoff.services.feedback import (
    feedback_digests_create,
    feedback_digests_send,
    feedback_link_read,
    lead_feedback_give,
)
from tests.factories import make_user

from .conftest import BERLIN, NY, accepted, converted, local, person, rejected, request_of

pytestmark = pytest.mark.django_db
LINK = re.compile(r"https?://[^\s\"<>]+/feedback/rate/([^/\s\"<>]+)/")


@pytest.fixture
def three(cast, new_york, clock, ask):
    """Three questions to the New York rep, asked Tuesday 19 May 2026 (converted, rejected, recycled)."""
    clock(local("2026-05-19 10:00", NY))
    handoffs = [
        converted(cast, first_name="Cleo", company="Acme & Sons"),
        rejected(cast, first_name="Dan", reason="student"),
        machine.handoff_recycle(handoff=accepted(cast, first_name="Eve"), actor=person(cast.rep), reason="not_ready"),
    ]
    assert ask() == 3
    return [request_of(h) for h in handoffs]


def digest_at(clock, text: str, zone: str = NY):
    clock(local(text, zone))
    return feedback_digests_create()


def test_at_nine_in_the_reps_zone_one_mail_lists_every_request_with_five_one_click_links(cast, three, clock):
    assert digest_at(clock, "2026-05-20 08:59").made == 0
    made = digest_at(clock, "2026-05-20 09:00")
    assert (made.made, made.listed) == (1, 3)

    result = feedback_digests_send()
    assert result.sent == 1 and len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [cast.rep.email]
    assert message.subject == "How good were your leads? 3 leads to rate"
    for name in ("Cleo", "Dan", "Eve", "Acme & Sons", "Student"):  # text is not HTML-escaped
        assert name in message.body
    html, kind = message.alternatives[0]
    assert kind == "text/html" and "Acme &amp; Sons" in html
    # Five links per lead, each for its request, the rep, its rating and the unanswered version.
    claims = [feedback_link_read(token) for token in LINK.findall(message.body)]
    assert sorted((c.request_id, c.rating) for c in claims) == sorted(
        (request.pk, rating) for request in three for rating in range(1, 6)
    )
    assert {(c.rater_id, c.revision) for c in claims} == {(cast.rep.pk, 0)}
    assert sorted(LINK.findall(html)) == sorted(LINK.findall(message.body))
    digest = FeedbackDigest.objects.get()
    assert (digest.day, digest.listed, digest.status, digest.recipients) == (
        date(2026, 5, 20), 3, "sent", cast.rep.email
    )


def test_one_digest_a_day_however_often_the_job_runs(cast, three, clock):
    digest_at(clock, "2026-05-20 09:00")
    assert digest_at(clock, "2026-05-20 09:15").made == 0
    assert digest_at(clock, "2026-05-20 11:45").made == 0
    feedback_digests_send()
    feedback_digests_send()
    assert len(mail.outbox) == 1 and FeedbackDigest.objects.count() == 1


def test_a_request_is_in_two_digests_at_most_then_expires(cast, three, clock):
    digest_at(clock, "2026-05-20 09:00")
    lead_feedback_give(request=three[0], actor=person(cast.rep), rating=4)  # answered after the first digest
    second = digest_at(clock, "2026-05-21 09:00")
    assert (second.listed, second.expired) == (2, 0)
    third = digest_at(clock, "2026-05-22 09:00")
    assert (third.made, third.expired) == (0, 2)
    outcomes = dict(FeedbackRequest.objects.values_list("pk", "outcome"))
    assert outcomes == {three[0].pk: "answered", three[1].pk: "expired", three[2].pk: "expired"}
    assert FeedbackRequest.objects.get(pk=three[1].pk).digests == 2


def test_no_digest_on_a_weekend_a_public_holiday_or_a_day_of_leave(cast, three, clock, new_york):
    assert digest_at(clock, "2026-05-23 09:30").made == 0  # Saturday
    assert digest_at(clock, "2026-05-25 09:30").made == 0  # Memorial Day
    CalendarDay.objects.create(calendar=new_york, date=date(2026, 5, 26), hours=[], note="Rita on leave")
    assert digest_at(clock, "2026-05-26 09:30").made == 0
    assert set(FeedbackRequest.objects.values_list("digests", flat=True)) == {0}  # nothing counted, nothing lost
    assert digest_at(clock, "2026-05-27 09:30").made == 1


def test_a_rep_marked_away_gets_no_digest_and_their_requests_wait(cast, three, clock):
    RepProfile.objects.filter(user=cast.rep).update(is_active=False)
    assert digest_at(clock, "2026-05-20 09:00").made == 0
    assert set(FeedbackRequest.objects.values_list("outcome", "digests")) == {("pending", 0)}
    RepProfile.objects.filter(user=cast.rep).update(is_active=True)
    assert digest_at(clock, "2026-05-21 09:00").listed == 3


def test_a_digest_the_worker_missed_in_the_morning_waits_for_the_next_working_day(cast, three, clock):
    assert digest_at(clock, "2026-05-20 12:01").made == 0
    assert digest_at(clock, "2026-05-21 09:00").made == 1


def test_each_rep_gets_it_at_nine_in_their_own_zone(cast, three, berlin_rep, clock, ask):
    clock(local("2026-05-19 10:00", BERLIN))
    rejected(cast, owner=berlin_rep)
    ask()
    assert digest_at(clock, "2026-05-20 09:00", BERLIN).made == 1  # 03:00 in New York
    assert FeedbackDigest.objects.get().rater == berlin_rep
    assert digest_at(clock, "2026-05-20 09:00", NY).made == 1  # 15:00 in Berlin
    assert FeedbackDigest.objects.count() == 2


def test_a_refused_mail_is_retried_with_backoff_and_its_requests_stay_pending(cast, three, clock, monkeypatch):
    calls = []

    def refused(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise ConnectionRefusedError("mail server down")
        return 1

    monkeypatch.setattr("handoff.services.notifications.send_mail", refused)
    digest_at(clock, "2026-05-20 09:00")
    first = feedback_digests_send()
    digest = FeedbackDigest.objects.get()
    assert (first.retrying, digest.status, digest.attempts) == (1, "pending", 1)
    assert "mail server down" in digest.last_error
    assert digest.next_attempt_at == local("2026-05-20 09:01", NY)
    assert set(FeedbackRequest.objects.values_list("outcome", flat=True)) == {"pending"}
    assert feedback_digests_send().sent == 0  # not before its backoff
    clock(local("2026-05-20 09:01", NY))
    assert feedback_digests_send().sent == 1 and len(calls) == 2


def test_a_digest_that_never_gets_through_gives_its_requests_back_to_the_next_one(cast, three, clock, monkeypatch,
                                                                               settings):
    settings.FEEDBACK_DIGEST_MAX_ATTEMPTS = 2
    monkeypatch.setattr("handoff.services.notifications.send_mail", lambda *a, **k: 1 / 0)
    digest_at(clock, "2026-05-20 09:00")
    feedback_digests_send()
    clock(local("2026-05-20 10:00", NY))
    assert feedback_digests_send().failed == 1
    assert FeedbackDigest.objects.get().status == "failed"
    # Never seen, so not counted: the next digest lists them as if for the first time.
    assert set(FeedbackRequest.objects.values_list("digests", "outcome")) == {(0, "pending")}


def test_slack_gets_a_line_without_the_reps_links(cast, three, clock, monkeypatch, settings):
    settings.SLACK_WEBHOOK_URL = "https://hooks.slack.invalid/T000"
    posts = []

    class Answer:
        def raise_for_status(self):
            return None

    monkeypatch.setattr("handoff.services.notifications.requests.post",
                        lambda url, json, timeout: posts.append(json["text"]) or Answer())
    digest_at(clock, "2026-05-20 09:00")
    feedback_digests_send()
    assert len(posts) == 1 and "3 leads to rate" in posts[0]
    assert "/feedback/rate/" not in posts[0]  # a channel must not get links that rate as the rep
    assert FeedbackDigest.objects.get().slack_sent_at is not None


def test_requests_answered_before_the_mail_goes_are_left_out(cast, three, clock):
    digest_at(clock, "2026-05-20 09:00")
    for request in three:
        lead_feedback_give(request=request, actor=person(cast.rep), rating=3)
    assert feedback_digests_send().sent == 1
    assert mail.outbox == []  # nothing left to ask


def test_a_rep_who_left_is_sent_nothing_and_their_questions_are_withdrawn(cast, three, clock):
    cast.rep.is_active = False
    cast.rep.save()
    result = digest_at(clock, "2026-05-20 09:00")
    assert (result.made, result.withdrawn) == (0, 3)
    assert set(FeedbackRequest.objects.values_list("outcome", flat=True)) == {FeedbackOutcome.WITHDRAWN}


def test_the_sender_is_queued_once_the_digests_are_committed(cast, three, clock, django_capture_on_commit_callbacks,
                                                             monkeypatch):
    sent = []
    monkeypatch.setattr("handoff.services.jobs._send", sent.append)
    with django_capture_on_commit_callbacks(execute=True):
        digest_at(clock, "2026-05-20 09:00")
    assert sent == ["handoff.feedback_send_digests"]


def test_reps_without_pending_requests_get_nothing(cast, clock, new_york):
    assert digest_at(clock, "2026-05-20 09:00").made == 0
    assert FeedbackDigest.objects.count() == 0


def test_a_digest_not_sent_on_its_day_is_dropped_and_its_requests_wait_for_the_next(cast, three, clock):
    digest_at(clock, "2026-05-20 09:00")
    clock(local("2026-05-21 00:30", NY))  # the sender was down all day: yesterday's mail is old news
    assert feedback_digests_send().sent == 1
    assert mail.outbox == [] and FeedbackDigest.objects.get().email_sent_at is None
    assert set(FeedbackRequest.objects.values_list("digests", flat=True)) == {0}
    assert digest_at(clock, "2026-05-21 09:00").listed == 3
    feedback_digests_send()
    assert len(mail.outbox) == 1


def test_one_run_of_the_sender_delivers_every_due_digest_over_one_mail_connection(cast, three, new_york, clock, ask,
                                                                                    monkeypatch):
    colleague = make_user("nia.newyork", Role.SALES_REP, team=cast.team, calendar=new_york)
    rejected(cast, owner=colleague, first_name="Finn")
    assert ask() == 1
    assert digest_at(clock, "2026-05-20 09:00").made == 2

    opened, through = [], []
    real = notifications.get_connection

    def counted(*args, **kwargs):
        connection = real(*args, **kwargs)
        send = connection.send_messages
        connection.send_messages = lambda messages: through.append((connection, len(messages))) or send(messages)
        opened.append(connection)
        return connection

    monkeypatch.setattr(notifications, "get_connection", counted)
    assert feedback_digests_send().sent == 2
    assert len(mail.outbox) == 2 and len(opened) == 1
    assert through == [(opened[0], 1), (opened[0], 1)]
