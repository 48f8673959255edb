"""Each handoff's next due time is kept on it by the database (migration 0019), on PostgreSQL and SQLite alike: the
earliest due time of its ticking clocks (not met, stopped or paused; breached ones too), whoever writes the clocks
or the handoff, through every step of a handoff's life."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Min, OuterRef, Subquery

from handoff.models import Handoff, Milestone
from handoff.services.handoffs import (
    handoff_accept,
    handoff_dispute,
    handoff_pause,
    handoff_qualify,
    handoff_reject,
    handoff_resolve,
    handoff_resume,
    handoff_touch,
    handoffs_reassign,
)
from handoff.services.sla import sla_scan
from tests.factories import make_lead

from .conftest import clock, utc

pytestmark = pytest.mark.django_db
MONDAY = utc("2026-03-02 09:00")


def _computed():
    ticking = Milestone.objects.filter(
        handoff=OuterRef("pk"), met_at__isnull=True, stopped_at__isnull=True, paused_at__isnull=True
    )
    return Subquery(ticking.order_by().values("handoff").annotate(first=Min("due_at")).values("first")[:1])


def kept_and_computed() -> dict[int, tuple]:
    """Per handoff: (the kept value, the value its clocks give now)."""
    rows = Handoff.objects.annotate(computed=_computed()).values_list("pk", "next_due_at", "computed")
    return {pk: (kept, computed) for pk, kept, computed in rows}


def assert_kept():
    found = kept_and_computed()
    assert found and all(kept == computed for kept, computed in found.values()), found


def test_it_follows_a_handoff_through_its_life(cast, policy, utc_calendar, time_machine):
    time_machine.move_to(MONDAY)
    lead = make_lead(owner=cast.rep)
    handoff = handoff_qualify(lead=lead, actor=cast.actor("marketer"))
    assert Handoff.objects.get(pk=handoff.pk).next_due_at == min(m.due_at for m in handoff.milestones.all())
    assert_kept()

    time_machine.move_to(MONDAY + timedelta(minutes=5))
    handoff_accept(handoff=handoff, actor=cast.actor("rep"))
    assert Handoff.objects.get(pk=handoff.pk).next_due_at == clock(handoff, "first_touch").due_at
    assert_kept()

    handoff_pause(handoff=handoff, actor=cast.actor("rep"), note="Call in a month")
    assert Handoff.objects.get(pk=handoff.pk).next_due_at is None, "a paused clock does not tick"
    time_machine.move_to(MONDAY + timedelta(hours=2))
    handoff_resume(handoff=handoff, actor=cast.actor("rep"))
    resumed = clock(handoff, "first_touch").due_at
    assert Handoff.objects.get(pk=handoff.pk).next_due_at == resumed
    assert_kept()

    handoff_touch(handoff=handoff, actor=cast.actor("rep"), kind="call", outcome="connected")
    assert_kept()
    assert Handoff.objects.get(pk=handoff.pk).next_due_at != resumed, "the first touch is met"


def test_a_breached_clock_still_leads_and_the_sla_flag_does_not_move_it(cast, policy, utc_calendar, time_machine):
    time_machine.move_to(MONDAY)
    handoff = handoff_qualify(lead=make_lead(owner=cast.rep), actor=cast.actor("marketer"))
    due = Handoff.objects.get(pk=handoff.pk).next_due_at
    time_machine.move_to(due + timedelta(minutes=1))
    sla_scan(kind="breach")
    assert Milestone.objects.filter(handoff=handoff, breached_at=due).exists()
    assert Handoff.objects.get(pk=handoff.pk).next_due_at == due
    assert_kept()


def test_rejecting_disputing_and_overturning_start_and_stop_the_clocks_it_follows(cast, policy, utc_calendar,
                                                                                   time_machine):
    time_machine.move_to(MONDAY)
    handoff = handoff_qualify(lead=make_lead(owner=cast.rep), actor=cast.actor("marketer"))
    handoff_reject(handoff=handoff, actor=cast.actor("rep"), reason="other", note="Wrong person")
    assert Handoff.objects.get(pk=handoff.pk).next_due_at is None
    handoff_dispute(handoff=handoff, actor=cast.actor("marketer"), reason="meets_definition", note="Demo asked")
    time_machine.move_to(MONDAY + timedelta(hours=1))
    handoff_resolve(handoff=handoff, actor=cast.actor("manager"), decision="overturn", note="Call them")
    assert Handoff.objects.get(pk=handoff.pk).next_due_at == min(
        m.due_at for m in handoff.milestones.filter(round=2)
    )
    assert_kept()


def test_reassigning_many_keeps_each_ones_value(cast, policy, utc_calendar, time_machine):
    time_machine.move_to(MONDAY)
    handoffs = [handoff_qualify(lead=make_lead(owner=cast.rep), actor=cast.actor("marketer")) for _ in range(3)]
    handoffs_reassign(handoffs=handoffs, actor=cast.actor("manager"), owner=cast.other_rep)
    assert_kept()


def test_a_handoff_saved_from_a_stale_copy_keeps_the_databases_value(cast, policy, utc_calendar, time_machine):
    time_machine.move_to(MONDAY)
    handoff = handoff_qualify(lead=make_lead(owner=cast.rep), actor=cast.actor("marketer"))
    stale = Handoff.objects.get(pk=handoff.pk)
    assert stale.next_due_at is not None
    Milestone.objects.filter(handoff=handoff).update(met_at=MONDAY + timedelta(minutes=1))  # no signal, no service
    assert Handoff.objects.get(pk=handoff.pk).next_due_at is None
    stale.note = "edited in the admin"
    stale.save()
    assert Handoff.objects.get(pk=handoff.pk).next_due_at is None, "the column is the database's"
    Handoff.objects.filter(pk=handoff.pk).update(next_due_at=MONDAY)
    assert Handoff.objects.get(pk=handoff.pk).next_due_at is None


def test_a_clock_deleted_or_moved_to_another_handoff_moves_both_values(cast, policy, utc_calendar, time_machine):
    time_machine.move_to(MONDAY)
    first = handoff_qualify(lead=make_lead(owner=cast.rep), actor=cast.actor("marketer"))
    second = handoff_qualify(lead=make_lead(owner=cast.rep), actor=cast.actor("marketer"))
    Milestone.objects.filter(handoff=second).update(due_at=MONDAY + timedelta(days=9))
    soonest = first.milestones.order_by("due_at").first()
    Milestone.objects.filter(pk=soonest.pk).update(handoff=second, round=2)
    assert Handoff.objects.get(pk=second.pk).next_due_at == soonest.due_at
    assert Handoff.objects.get(pk=first.pk).next_due_at != soonest.due_at
    assert_kept()

    Milestone.objects.filter(pk=soonest.pk).delete()
    assert Handoff.objects.get(pk=second.pk).next_due_at == MONDAY + timedelta(days=9)
    Milestone.objects.filter(handoff=first).delete()
    assert Handoff.objects.get(pk=first.pk).next_due_at is None
    assert_kept()
