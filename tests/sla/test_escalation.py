"""On a breach the policy's escalation runs once: notify only, give the lead back to the queue, or recycle it."""
from __future__ import annotations

import pytest
from django.core import mail

from handoff.models import HandoffEvent, HandoffState, MilestoneKind, SlaPolicy
from handoff.models.sla import Escalation, NoticeKind
from handoff.services.handoffs import handoff_accept, handoff_qualify
from handoff.services.notifications import notifications_send
from handoff.services.sla import sla_scan, sla_scan_all
from tests.factories import make_lead

from .conftest import utc

K = MilestoneKind
MONDAY_9 = utc("2026-03-09 09:00")


def escalate_with(policy: SlaPolicy, escalation: str) -> None:
    SlaPolicy.objects.filter(pk=policy.pk).update(escalation=escalation)


def hot_lead(cast, at=MONDAY_9):
    """Accept due in 15 business minutes."""
    lead = make_lead(owner=cast.rep, lead_source="Demo Request")
    return handoff_qualify(lead=lead, actor=cast.actor("marketer"), at=at)


def system_events(handoff) -> list[tuple[str, str]]:
    return list(
        HandoffEvent.objects.filter(handoff=handoff, actor_kind="system").values_list("action", "note").order_by("pk")
    )


def test_notify_only_leaves_the_handoff_with_its_owner(cast, policy, utc_calendar):
    handoff = hot_lead(cast)
    result = sla_scan(notice=NoticeKind.BREACH, now=utc("2026-03-09 09:20"))
    assert result.count == 1 and (result.requeued, result.recycled) == ([], [])
    handoff.refresh_from_db()
    assert (handoff.state, handoff.owner) == (HandoffState.QUALIFIED, cast.rep)
    assert system_events(handoff) == []


def test_queue_escalation_gives_an_unaccepted_lead_back_to_the_queue_and_still_tells_who_breached(
    cast, policy, utc_calendar
):
    escalate_with(policy, Escalation.QUEUE)
    handoff = hot_lead(cast)
    result = sla_scan(notice=NoticeKind.BREACH, now=utc("2026-03-09 09:20"))
    assert result.requeued == [handoff.pk]
    handoff.refresh_from_db()
    assert (handoff.state, handoff.owner) == (HandoffState.QUALIFIED, None)
    assert system_events(handoff) == [("reassign", "SLA breached: accept or reject not within the agreed time.")]

    notifications_send(now=utc("2026-03-09 09:20"))
    (notice,) = mail.outbox
    assert set(notice.to) == {cast.rep.email, cast.manager.email}
    assert "given back to the team queue" in notice.body


def test_recycle_escalation_sends_the_lead_back_to_marketing_with_the_sla_reason(cast, policy, utc_calendar):
    escalate_with(policy, Escalation.RECYCLE)
    handoff = hot_lead(cast)
    assert sla_scan(notice=NoticeKind.BREACH, now=utc("2026-03-09 09:20")).recycled == [handoff.pk]
    handoff.refresh_from_db()
    assert handoff.state == HandoffState.RECYCLED
    assert handoff.reason.code == "sla_breach"
    assert [action for action, _ in system_events(handoff)] == ["recycle"]


def test_an_accepted_lead_untouched_in_time_is_recycled_under_the_recycle_policy(cast, policy, utc_calendar):
    escalate_with(policy, Escalation.RECYCLE)
    handoff = hot_lead(cast)
    handoff_accept(handoff=handoff, actor=cast.actor("rep"), at=utc("2026-03-09 09:05"))
    # First touch is due two business hours after the hand-over: 11:00.
    assert sla_scan(notice=NoticeKind.BREACH, now=utc("2026-03-09 10:59")).count == 0
    result = sla_scan(notice=NoticeKind.BREACH, now=utc("2026-03-09 11:01"))
    assert {kind for _, _, kind in result.flagged} == {K.FIRST_TOUCH}
    handoff.refresh_from_db()
    assert handoff.state == HandoffState.RECYCLED
    assert system_events(handoff) == [("recycle", "SLA breached: first touch not within the agreed time.")]


def test_each_breach_escalates_once_and_a_rerun_changes_nothing(cast, policy, utc_calendar):
    escalate_with(policy, Escalation.QUEUE)
    handoffs = [hot_lead(cast) for _ in range(3)]
    counts = sla_scan_all(now=utc("2026-03-09 09:20"))
    assert (counts["breach"], counts["requeued"]) == (3, 3)
    events = HandoffEvent.objects.count()
    again = sla_scan_all(now=utc("2026-03-09 09:30"))
    assert (again["breach"], again["requeued"], again["recycled"]) == (0, 0, 0)
    assert HandoffEvent.objects.count() == events
    assert all(h.owner_id is None for h in type(handoffs[0]).objects.filter(pk__in=[h.pk for h in handoffs]))


def test_a_lead_the_queue_already_holds_is_flagged_but_not_moved(cast, policy, utc_calendar):
    escalate_with(policy, Escalation.QUEUE)
    lead = make_lead(owner=None, lead_source="Demo Request")
    handoff = handoff_qualify(lead=lead, actor=cast.actor("marketer"), at=MONDAY_9)
    result = sla_scan(notice=NoticeKind.BREACH, now=utc("2026-03-09 09:20"))
    assert (result.count, result.requeued, result.recycled) == (1, [], [])
    assert system_events(handoff) == []


@pytest.mark.parametrize("escalation", [Escalation.QUEUE, Escalation.RECYCLE])
def test_a_handoff_that_ended_before_its_deadline_is_not_escalated(cast, policy, utc_calendar, escalation):
    from handoff.services.handoffs import handoff_recycle

    escalate_with(policy, escalation)
    handoff = hot_lead(cast)
    handoff_accept(handoff=handoff, actor=cast.actor("rep"), at=utc("2026-03-09 09:05"))
    handoff_recycle(handoff=handoff, actor=cast.actor("rep"), reason="nurture", at=utc("2026-03-09 09:06"))
    result = sla_scan(notice=NoticeKind.BREACH, now=utc("2026-03-10 09:00"))
    assert (result.count, result.requeued, result.recycled) == (0, [], [])
    assert system_events(handoff) == []
