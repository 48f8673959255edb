"""The breach and reminder scans flag exactly the clocks that are due, once, with one notice each."""
from __future__ import annotations

import pytest
from django.core import mail
from django.core.management import call_command

from handoff.models import Milestone, MilestoneKind, SlaNotification
from handoff.models.sla import NotificationKind
from handoff.services.handoffs import handoff_accept, handoff_qualify
from handoff.services.notifications import notifications_send
from handoff.services.sla import sla_scan, sla_scan_all
from tests.factories import make_lead

from .conftest import clock, utc

K = MilestoneKind


def qualify(cast, at, **fields):
    return handoff_qualify(lead=make_lead(owner=cast.rep, **fields), actor=cast.actor("marketer"), at=at)


@pytest.fixture
def three(cast, policy, utc_calendar):
    """Hot leads handed over Monday 09:00, 09:10 and 09:20: accept due 09:15, 09:25, 09:35."""
    return [qualify(cast, utc(f"2026-03-09 09:{m:02d}"), lead_source="Demo Request") for m in (0, 10, 20)]


def test_the_breach_scan_flags_exactly_the_clocks_past_due(three):
    result = sla_scan(kind=NotificationKind.BREACH, now=utc("2026-03-09 09:25"))
    flagged = {(handoff_id, kind) for _, handoff_id, kind in result.flagged}
    assert flagged == {(three[0].pk, K.ACCEPT), (three[1].pk, K.ACCEPT)}
    assert clock(three[0], K.ACCEPT).breached_at == utc("2026-03-09 09:15")
    assert clock(three[2], K.ACCEPT).breached_at is None
    assert set(SlaNotification.objects.values_list("milestone__handoff_id", "milestone_kind", "kind")) == {
        (three[0].pk, K.ACCEPT, NotificationKind.BREACH),
        (three[1].pk, K.ACCEPT, NotificationKind.BREACH),
    }


def test_a_second_scan_flags_nothing_more_and_writes_no_second_notice(three):
    sla_scan(kind=NotificationKind.BREACH, now=utc("2026-03-09 09:25"))
    again = sla_scan(kind=NotificationKind.BREACH, now=utc("2026-03-09 09:25"))
    assert again.count == 0
    assert SlaNotification.objects.count() == 2


def test_met_and_paused_clocks_are_not_flagged(cast, three):
    handoff_accept(handoff=three[0], actor=cast.actor("rep"), at=utc("2026-03-09 09:05"))
    Milestone.objects.filter(handoff=three[1]).update(paused_at=utc("2026-03-09 09:12"), remaining_seconds=60)
    assert sla_scan(kind=NotificationKind.BREACH, now=utc("2026-03-09 09:30")).count == 0


def test_the_scan_works_in_batches_most_overdue_first(three):
    # At noon all three accept clocks (09:15–09:35) and first-touch clocks (11:00–11:20) are past due.
    first = sla_scan(kind=NotificationKind.BREACH, now=utc("2026-03-09 12:00"), limit=2)
    assert [(h, k) for _, h, k in first.flagged] == [(three[0].pk, K.ACCEPT), (three[1].pk, K.ACCEPT)]
    assert sla_scan_all(now=utc("2026-03-09 12:00"), limit=2)["breach"] == 4
    assert Milestone.objects.filter(breached_at__isnull=False).count() == 6


def test_the_reminder_scan_flags_clocks_past_their_reminder_point_once(three):
    # 75 % of 15 minutes: 11 m 15 s after the hand-over.
    result = sla_scan(kind=NotificationKind.REMINDER, now=utc("2026-03-09 09:11:15"))
    assert [(h, k) for _, h, k in result.flagged] == [(three[0].pk, K.ACCEPT)]
    assert clock(three[0], K.ACCEPT).reminded_at == utc("2026-03-09 09:11:15")
    assert sla_scan(kind=NotificationKind.REMINDER, now=utc("2026-03-09 09:11:15")).count == 0
    assert SlaNotification.objects.get().kind == NotificationKind.REMINDER


def test_a_breach_goes_to_the_owner_and_the_team_manager_a_reminder_to_the_owner(cast, three):
    sla_scan(kind=NotificationKind.REMINDER, now=utc("2026-03-09 09:12"))
    sla_scan(kind=NotificationKind.BREACH, now=utc("2026-03-09 09:16"))
    result = notifications_send(now=utc("2026-03-09 09:16"))
    assert result.sent == 2  # the first lead's reminder (09:11:15) and breach (09:15)
    sent = {(m.subject.split(":")[0], tuple(m.to)) for m in mail.outbox}
    assert sent == {
        ("SLA reminder", (cast.rep.email,)),
        ("SLA breached", (cast.rep.email, cast.manager.email)),
    }
    assert len(mail.outbox) == 2
    assert SlaNotification.objects.filter(status=SlaNotification.Status.SENT).count() == 2


def test_sending_again_sends_nothing_twice(three):
    sla_scan(kind=NotificationKind.BREACH, now=utc("2026-03-09 09:16"))
    notifications_send(now=utc("2026-03-09 09:16"))
    assert notifications_send(now=utc("2026-03-09 10:00")).sent == 0
    assert len(mail.outbox) == 1


def test_a_failed_slack_post_is_retried_with_backoff_without_sending_the_email_again(settings, monkeypatch, three):
    settings.SLACK_WEBHOOK_URL = "https://hooks.slack.invalid/T000"
    posts = []

    class Answer:
        def __init__(self, ok):
            self.ok = ok

        def raise_for_status(self):
            if not self.ok:
                raise RuntimeError("Slack answered 503")

    def post(url, json, timeout):
        posts.append(json["text"])
        return Answer(ok=len(posts) > 1)

    monkeypatch.setattr("handoff.services.notifications.requests.post", post)
    sla_scan(kind=NotificationKind.BREACH, now=utc("2026-03-09 09:16"))
    first = notifications_send(now=utc("2026-03-09 09:16"))
    notice = SlaNotification.objects.get()
    assert (first.sent, first.retrying) == (0, 1)
    assert notice.status == SlaNotification.Status.PENDING and notice.attempts == 1
    assert "503" in notice.last_error
    assert notice.next_attempt_at == utc("2026-03-09 09:17")
    assert notifications_send(now=utc("2026-03-09 09:16:30")).sent == 0  # not before its backoff
    assert notifications_send(now=utc("2026-03-09 09:17")).sent == 1
    assert len(mail.outbox) == 1 and len(posts) == 2
    notice.refresh_from_db()
    assert notice.status == SlaNotification.Status.SENT and notice.slack_sent_at and notice.email_sent_at


def test_a_notice_that_keeps_failing_gives_up_and_stays_visible(settings, monkeypatch, three):
    settings.SLA_NOTIFY_MAX_ATTEMPTS = 2

    def broken(*args, **kwargs):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr("handoff.services.notifications.send_mail", broken)
    sla_scan(kind=NotificationKind.BREACH, now=utc("2026-03-09 09:16"))
    notifications_send(now=utc("2026-03-09 09:16"))
    result = notifications_send(now=utc("2026-03-09 12:00"))
    notice = SlaNotification.objects.get()
    assert result.failed == 1
    assert (notice.status, notice.attempts) == (SlaNotification.Status.FAILED, 2)
    assert "mail server down" in notice.last_error


def test_a_scan_queues_the_sender_only_after_it_commits(three, django_capture_on_commit_callbacks, monkeypatch):
    queued = []
    monkeypatch.setattr("handoff.services.jobs._send", queued.append)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sla_scan(kind=NotificationKind.BREACH, now=utc("2026-03-09 09:30"))
        sla_scan(kind=NotificationKind.REMINDER, now=utc("2026-03-09 09:30"))
    assert queued == []
    assert len(callbacks) == 1  # one sender per transaction, however many scans it held
    callbacks[0]()
    assert queued == ["handoff.sla_send_notifications"]


def test_scan_sla_command_prints_what_it_flagged(three, capsys, time_machine):
    time_machine.move_to(utc("2026-03-09 09:26"), tick=False)
    call_command("scan_sla")
    out = capsys.readouterr().out
    assert "2 milestone(s) breached" in out
    # The third lead's reminder (09:31:15) is still ahead; a breached clock gets no reminder after its breach.
    assert "0 milestone(s) due a reminder" in out
    assert str(three[0].lead) in out
