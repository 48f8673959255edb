"""On a breach the policy's escalation runs once, in the scan's transaction, as the system actor.

notify: the notice only. queue: a lead nobody accepted or touched in time goes back to the team queue.
recycle: a lead nobody accepted or followed up in time goes back to marketing's nurture (reason sla_breach).
"""
from __future__ import annotations

import pytest
from django.core import mail
from django.core.management import call_command

from handoff.models import Handoff, HandoffEvent, HandoffState, MilestoneKind, SlaNotification, SlaPolicy
from handoff.models.sla import Escalation, NotificationKind
from handoff.services.handoffs import handoff_accept, handoff_qualify, handoff_recycle, handoff_touch
from handoff.services.notifications import notifications_send
from handoff.services.sla import sla_scan, sla_scan_all
from tests.factories import make_lead

from .conftest import utc

K = MilestoneKind
MONDAY_9 = utc("2026-03-09 09:00")
ACCEPT_BREACHED = utc("2026-03-09 09:20")  # a hot lead's 15 business minutes to accept have run out
FOLLOW_UP_BREACHED = utc("2026-03-18 10:00")  # 5 attempts in 56 business hours from Monday 09:00 have run out


def escalate_with(policy: SlaPolicy, escalation: str) -> None:
    SlaPolicy.objects.filter(pk=policy.pk).update(escalation=escalation)


def hot_lead(cast, at=MONDAY_9, owner="rep") -> Handoff:
    """Accept due at 09:15, first touch at 11:00."""
    lead = make_lead(owner=getattr(cast, owner) if owner else None, lead_source="Demo Request")
    return handoff_qualify(lead=lead, actor=cast.actor("marketer"), at=at)


def accepted_and_touched(cast) -> Handoff:
    """Accepted and touched once in time: only the follow-up clock (4 more attempts) is left running."""
    handoff = hot_lead(cast)
    handoff_accept(handoff=handoff, actor=cast.actor("rep"), at=utc("2026-03-09 09:05"))
    handoff_touch(handoff=handoff, actor=cast.actor("rep"), kind="call", outcome="attempt",
                  at=utc("2026-03-09 09:30"), logged_at=utc("2026-03-09 09:30"))
    return handoff


def system_events(handoff: Handoff) -> list[tuple[str, str]]:
    return list(
        HandoffEvent.objects.filter(handoff=handoff, actor_kind="system").values_list("action", "note").order_by("pk")
    )


def now_in(handoff: Handoff) -> tuple[str, int | None]:
    handoff.refresh_from_db()
    return handoff.state, handoff.owner_id


def breach_mail(at) -> mail.EmailMessage:
    notifications_send(now=at)
    (notice,) = mail.outbox
    return notice


def test_notify_only_changes_nothing_but_the_notice(cast, policy, utc_calendar):
    handoff = hot_lead(cast)
    result = sla_scan(kind=NotificationKind.BREACH, now=ACCEPT_BREACHED)
    assert (result.count, result.requeued, result.recycled) == (1, [], [])
    assert now_in(handoff) == (HandoffState.QUALIFIED, cast.rep.pk)
    assert system_events(handoff) == []
    assert SlaNotification.objects.filter(milestone__handoff=handoff, kind=NotificationKind.BREACH).count() == 1
    notice = breach_mail(ACCEPT_BREACHED)
    assert set(notice.to) == {cast.rep.email, cast.manager.email}
    assert "Escalation" not in notice.body


def test_queue_gives_a_lead_nobody_accepted_back_to_the_queue_and_still_tells_who_breached(
    cast, policy, utc_calendar
):
    escalate_with(policy, Escalation.QUEUE)
    handoff = hot_lead(cast)
    result = sla_scan(kind=NotificationKind.BREACH, now=ACCEPT_BREACHED)
    assert result.requeued == [handoff.pk] and result.recycled == []
    assert now_in(handoff) == (HandoffState.QUALIFIED, None)
    event = HandoffEvent.objects.get(handoff=handoff, action="reassign")
    assert (event.actor_kind, event.actor, event.at) == ("system", None, ACCEPT_BREACHED)
    assert event.note == "SLA breached: accept or reject not within the agreed time."
    assert event.data == {"owner": None}

    notice = breach_mail(ACCEPT_BREACHED)
    assert set(notice.to) == {cast.rep.email, cast.manager.email}
    assert "Escalation: the lead was given back to the team queue." in notice.body


def test_queue_gives_back_an_accepted_lead_nobody_touched_and_names_every_clock_that_ran_out(
    cast, policy, utc_calendar
):
    escalate_with(policy, Escalation.QUEUE)
    accepted = hot_lead(cast)
    handoff_accept(handoff=accepted, actor=cast.actor("rep"), at=utc("2026-03-09 09:05"))
    untouched = hot_lead(cast)  # the scan runs late: its accept and first-touch clocks breach in one scan
    result = sla_scan(kind=NotificationKind.BREACH, now=utc("2026-03-09 11:30"))
    assert result.requeued == sorted([accepted.pk, untouched.pk])
    assert now_in(accepted) == (HandoffState.ACCEPTED, None)
    assert now_in(untouched) == (HandoffState.QUALIFIED, None)
    assert system_events(accepted) == [("reassign", "SLA breached: first touch not within the agreed time.")]
    assert system_events(untouched) == [
        ("reassign", "SLA breached: accept or reject and first touch not within the agreed time.")
    ]


def test_queue_leaves_a_lead_with_the_rep_working_it_when_only_the_follow_up_runs_out(cast, policy, utc_calendar):
    escalate_with(policy, Escalation.QUEUE)
    handoff = accepted_and_touched(cast)
    result = sla_scan(kind=NotificationKind.BREACH, now=FOLLOW_UP_BREACHED)
    assert [kind for _, _, kind in result.flagged] == [K.FOLLOW_UP]
    assert (result.requeued, result.recycled) == ([], [])
    assert now_in(handoff) == (HandoffState.ACCEPTED, cast.rep.pk)


def test_a_lead_the_queue_already_holds_is_flagged_but_not_moved(cast, policy, utc_calendar):
    escalate_with(policy, Escalation.QUEUE)
    handoff = hot_lead(cast, owner=None)
    result = sla_scan(kind=NotificationKind.BREACH, now=ACCEPT_BREACHED)
    assert (result.count, result.requeued, result.recycled) == (1, [], [])
    assert system_events(handoff) == []


def test_recycle_sends_a_lead_nobody_accepted_back_to_marketing_with_the_sla_reason(cast, policy, utc_calendar):
    escalate_with(policy, Escalation.RECYCLE)
    handoff = hot_lead(cast)
    result = sla_scan(kind=NotificationKind.BREACH, now=ACCEPT_BREACHED)
    assert (result.requeued, result.recycled) == ([], [handoff.pk])
    handoff.refresh_from_db()
    assert (handoff.state, handoff.owner, handoff.recycled_at) == (HandoffState.RECYCLED, cast.rep, ACCEPT_BREACHED)
    assert (handoff.reason.kind, handoff.reason.code) == ("recycle", "sla_breach")
    event = HandoffEvent.objects.get(handoff=handoff, action="recycle")
    assert (event.actor_kind, event.from_state, event.to_state) == ("system", "qualified", "recycled")
    assert event.reason == handoff.reason
    assert event.note == "SLA breached: accept or reject not within the agreed time."
    # Recycling stopped the clocks that were still running: nothing more to flag for this handoff.
    assert sla_scan(kind=NotificationKind.BREACH, now=FOLLOW_UP_BREACHED).count == 0

    assert "Escalation: the lead was recycled to marketing's nurture." in breach_mail(ACCEPT_BREACHED).body


def test_recycle_sends_back_an_accepted_lead_not_followed_up_in_time(cast, policy, utc_calendar):
    escalate_with(policy, Escalation.RECYCLE)
    handoff = accepted_and_touched(cast)
    result = sla_scan(kind=NotificationKind.BREACH, now=FOLLOW_UP_BREACHED)
    assert [kind for _, _, kind in result.flagged] == [K.FOLLOW_UP]
    assert result.recycled == [handoff.pk]
    assert now_in(handoff)[0] == HandoffState.RECYCLED
    assert system_events(handoff) == [("recycle", "SLA breached: follow-up attempts not within the agreed time.")]


def test_recycle_keeps_an_accepted_lead_whose_first_touch_came_late(cast, policy, utc_calendar):
    escalate_with(policy, Escalation.RECYCLE)
    handoff = hot_lead(cast)
    handoff_accept(handoff=handoff, actor=cast.actor("rep"), at=utc("2026-03-09 09:05"))
    # First touch is due two business hours after the hand-over: 11:00.
    assert sla_scan(kind=NotificationKind.BREACH, now=utc("2026-03-09 10:59")).count == 0
    result = sla_scan(kind=NotificationKind.BREACH, now=utc("2026-03-09 11:01"))
    assert [kind for _, _, kind in result.flagged] == [K.FIRST_TOUCH]
    assert (result.requeued, result.recycled) == ([], [])
    assert now_in(handoff) == (HandoffState.ACCEPTED, cast.rep.pk)
    assert system_events(handoff) == []
    notice = breach_mail(utc("2026-03-09 11:01"))
    assert "first touch" in notice.subject and "Escalation" not in notice.body


def test_a_skipped_handoff_does_not_hold_back_the_rest_of_its_scan(cast, policy, utc_calendar):
    escalate_with(policy, Escalation.QUEUE)
    queued = hot_lead(cast, owner=None)
    owned = [hot_lead(cast), hot_lead(cast, owner="other_rep")]
    result = sla_scan(kind=NotificationKind.BREACH, now=ACCEPT_BREACHED)
    assert result.count == 3
    assert result.requeued == sorted(h.pk for h in owned)
    assert [now_in(h) for h in [queued, *owned]] == [(HandoffState.QUALIFIED, None)] * 3


@pytest.mark.parametrize("escalation", [Escalation.QUEUE, Escalation.RECYCLE])
def test_a_handoff_that_ended_before_its_deadline_is_not_escalated(cast, policy, utc_calendar, escalation):
    escalate_with(policy, escalation)
    handoff = hot_lead(cast)
    handoff_accept(handoff=handoff, actor=cast.actor("rep"), at=utc("2026-03-09 09:05"))
    handoff_recycle(handoff=handoff, actor=cast.actor("rep"), reason="nurture", at=utc("2026-03-09 09:06"))
    result = sla_scan(kind=NotificationKind.BREACH, now=utc("2026-03-10 09:00"))
    assert (result.count, result.requeued, result.recycled) == (0, [], [])
    assert system_events(handoff) == []


@pytest.mark.parametrize("escalation", [Escalation.QUEUE, Escalation.RECYCLE])
def test_each_breach_escalates_once_and_a_rerun_changes_nothing(cast, policy, utc_calendar, escalation):
    escalate_with(policy, escalation)
    handoffs = [hot_lead(cast) for _ in range(3)]
    counts = sla_scan_all(now=ACCEPT_BREACHED)
    moved = "requeued" if escalation == Escalation.QUEUE else "recycled"
    assert (counts["breach"], counts[moved]) == (3, 3)
    before = list(Handoff.objects.filter(pk__in=[h.pk for h in handoffs]).values().order_by("pk"))
    events, notices = HandoffEvent.objects.count(), SlaNotification.objects.count()

    for later in (ACCEPT_BREACHED, utc("2026-03-09 11:30"), FOLLOW_UP_BREACHED):
        again = sla_scan_all(now=later)
        assert (again["requeued"], again["recycled"]) == (0, 0)
    assert list(Handoff.objects.filter(pk__in=[h.pk for h in handoffs]).values().order_by("pk")) == before
    assert HandoffEvent.objects.count() == events
    assert HandoffEvent.objects.filter(actor_kind="system").count() == 3
    if escalation == Escalation.QUEUE:  # the queue's clocks ran on and breached, with notices but no more moves
        assert SlaNotification.objects.count() > notices


def test_a_backlog_is_escalated_in_batches_the_state_machine_accepts(cast, policy, utc_calendar, monkeypatch):
    monkeypatch.setattr("handoff.services.handoffs.machine.MAX_BATCH", 2)  # what the state machine takes at once
    monkeypatch.setattr("handoff.services.sla.escalation.MAX_BATCH", 2)
    escalate_with(policy, Escalation.QUEUE)
    handoffs = [hot_lead(cast) for _ in range(5)]
    result = sla_scan(kind=NotificationKind.BREACH, now=ACCEPT_BREACHED)
    assert result.requeued == sorted(h.pk for h in handoffs)
    assert HandoffEvent.objects.filter(actor_kind="system", action="reassign").count() == 5


def test_scan_sla_command_reports_the_escalations(cast, policy, utc_calendar, capsys, time_machine):
    escalate_with(policy, Escalation.RECYCLE)
    hot_lead(cast)
    hot_lead(cast)
    time_machine.move_to(ACCEPT_BREACHED, tick=False)
    call_command("scan_sla")
    out = capsys.readouterr().out
    assert "2 milestone(s) breached" in out
    assert "escalation: 0 handoff(s) back to the queue, 2 recycled" in out
