"""Routing: a lead that starts without an owner goes to a team by territory and to a rep of it by a fair weighted
round robin that skips who is away, capped, inactive, off hours or breached it before; every decision is audited,
written back to the CRM, and starts the SLA accept clock in the new owner's calendar."""
from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from handoff.exceptions import InvalidInput, NotAllowed
from handoff.models import (
    AwayPeriod,
    BusinessCalendar,
    Handoff,
    HandoffRouting,
    Milestone,
    MilestoneKind,
    RepProfile,
    RepRouting,
    RoutingNotice,
    RoutingRules,
    RoutingStatus,
    SlaPolicy,
    TeamRouting,
    WriteBack,
)
from handoff.models.sla import Escalation
from handoff.selectors.routing import owner_writebacks
from handoff.services import handoffs as machine
from handoff.services.actors import Actor
from handoff.services.routing import (
    away_period_set,
    handoffs_route,
    rep_routing_update,
    routing_notices_send,
    routing_queue_retry,
    routing_rules_revise,
    routing_rules_save,
    team_routing_update,
)
from handoff.services.sla import sla_scan
from handoff.tasks.routing import routing_pass_task
from tests.factories import make_lead, make_user

from .conftest import MONDAY_MORNING, TERRITORIES, qualify, queue_leads, route_events

pytestmark = pytest.mark.time_machine(MONDAY_MORNING)

K = MilestoneKind


def owners(handoffs) -> Counter:
    return Counter(
        Handoff.objects.filter(pk__in=[h.pk for h in handoffs]).values_list("owner__username", flat=True)
    )


def away_today(org, rep, days: int = 0) -> None:
    today = MONDAY_MORNING.date()
    away_period_set(rep=rep, actor=Actor.person(rep), starts_on=today, ends_on=today + timedelta(days=days))


# ---------------------------------------------------------------------------------------------
# Territories
# ---------------------------------------------------------------------------------------------
def test_each_lead_goes_to_the_team_of_the_first_territory_it_is_in_else_to_the_catch_all_team(org):
    dach, uk, us = qualify(queue_leads(1, country="AT") + queue_leads(1, country="GB") + queue_leads(1, country="US"))

    assert dach.owner.profile.team == org.emea and uk.owner.profile.team == org.emea
    assert us.owner.profile.team == org.americas
    assert [HandoffRouting.objects.get(handoff=h).territory for h in (dach, uk, us)] == ["DACH", "UK", ""]


def test_a_territory_may_test_the_lead_s_sla_segment(org):
    # The migration's policy calls a demo request "hot": hot leads go to the Americas whatever their country.
    routing_rules_revise(
        rules=org.rules,
        territories=[{"name": "Hot", "conditions": [{"field": "segment", "op": "=", "value": "hot"}],
                      "team": org.americas.pk}, *TERRITORIES],
    )
    hot, standard = qualify(queue_leads(1, lead_source="Demo Request") + queue_leads(1))

    assert hot.owner.profile.team == org.americas
    assert HandoffRouting.objects.get(handoff=hot).territory == "Hot"
    assert standard.owner.profile.team == org.emea


def test_a_lead_handed_to_a_rep_by_the_crm_is_not_routed(org):
    (handoff,) = qualify([make_lead(owner=org.dan, country="DE").pk])

    assert handoff.owner == org.dan
    assert not HandoffRouting.objects.exists() and not route_events(handoff)


# ---------------------------------------------------------------------------------------------
# Weights, counted fairness
# ---------------------------------------------------------------------------------------------
def test_weights_give_exact_shares_over_a_thousand_leads(org):
    org.weights(ana=1, ben=1, cyd=3)

    handed = qualify(queue_leads(1000))

    assert owners(handed) == {"ana": 200, "ben": 200, "cyd": 600}
    assert dict(RepRouting.objects.filter(user__username__in=["ana", "ben", "cyd"]).values_list(
        "user__username", "assigned")) == {"ana": 200, "ben": 200, "cyd": 600}


def test_the_round_robin_is_smooth_and_its_order_holds_from_batch_to_batch(org):
    org.weights(ana=1, ben=1, cyd=3)
    one_by_one = [qualify(queue_leads(1))[0].owner.username for _ in range(10)]

    # Smooth: the rep at weight 3 never gets more than two in a row; the order repeats every five leads.
    assert one_by_one[:5] == one_by_one[5:]
    assert Counter(one_by_one[:5]) == {"cyd": 3, "ana": 1, "ben": 1}
    assert "cyd, cyd, cyd" not in ", ".join(one_by_one)


def test_a_rep_back_from_leave_takes_their_share_from_then_on_not_a_backlog(org):
    away_today(org, org.ana)
    qualify(queue_leads(30))  # ben and cyd share these

    AwayPeriod.objects.filter(user=org.ana).delete()  # ana is back
    after = qualify(queue_leads(9))

    assert owners(after) == {"ana": 3, "ben": 3, "cyd": 3}


def test_a_manager_s_reassignment_counts_toward_fairness(org):
    handed = qualify(queue_leads(3))  # one each
    other = qualify([make_lead(owner=org.ben, country="DE").pk])
    machine.handoffs_reassign(handoffs=other, actor=Actor.person(org.mia), owner=org.ana)  # ana got one by hand

    after = qualify(queue_leads(2))

    assert owners(handed) == {"ana": 1, "ben": 1, "cyd": 1}
    assert "ana" not in owners(after)


# ---------------------------------------------------------------------------------------------
# Who is skipped
# ---------------------------------------------------------------------------------------------
def test_a_rep_at_their_daily_cap_gets_no_more_leads_that_day(org):
    rep_routing_update(rep=org.ana, actor=Actor.person(org.mia), daily_cap=2)

    handed = qualify(queue_leads(12))

    assert owners(handed)["ana"] == 2
    assert route_events(handed[-1])[0].data["skipped"] == {"ana": "daily_cap"}


def test_a_rep_at_their_open_handoff_cap_gets_no_more_until_one_closes(org):
    rep_routing_update(rep=org.ben, actor=Actor.person(org.mia), open_cap=1)
    rep_routing_update(rep=org.cyd, actor=Actor.person(org.mia), open_cap=1)
    first = qualify(queue_leads(3))
    assert owners(first) == {"ana": 1, "ben": 1, "cyd": 1}

    machine.handoff_reject(handoff=next(h for h in first if h.owner == org.ben), actor=Actor.person(org.ben),
                           reason="student")
    # A rejected handoff is still open (marketing may dispute it): ben stays capped.
    second = qualify(queue_leads(2))

    assert owners(second) == {"ana": 2}


def test_away_inactive_and_deactivated_reps_are_skipped(org):
    away_today(org, org.ana, days=2)
    RepProfile.objects.filter(user=org.ben).update(is_active=False)

    handed = qualify(queue_leads(4))

    assert owners(handed) == {"cyd": 4}
    assert route_events(handed[0])[0].data["skipped"] == {"ana": "away", "ben": "inactive"}


def test_an_away_period_counts_in_the_rep_s_own_zone(org):
    # Monday 10:00 UTC is already Tuesday on Kiritimati (UTC+14): ana, away on Tuesday there, is away now.
    kiritimati = BusinessCalendar.objects.create(name="Kiritimati", time_zone="Pacific/Kiritimati")
    RepProfile.objects.filter(user=org.ana).update(calendar=kiritimati)
    tuesday = MONDAY_MORNING.date() + timedelta(days=1)
    away_period_set(rep=org.ana, actor=Actor.person(org.mia), starts_on=tuesday, ends_on=tuesday)

    assert "ana" not in owners(qualify(queue_leads(3)))


def test_reps_outside_their_working_hours_are_skipped_when_the_team_says_so(org, time_machine):
    new_york = BusinessCalendar.objects.create(name="New York", time_zone="America/New_York")
    RepProfile.objects.filter(user=org.cyd).update(calendar=new_york)  # 05:00 there: not working yet
    assert "cyd" in owners(qualify(queue_leads(5)))  # the team's setting is off: off hours do not matter

    team_routing_update(team=org.emea, actor=Actor.person(org.mia), skip_outside_hours=True)
    handed = qualify(queue_leads(6))

    assert owners(handed) == {"ana": 3, "ben": 3}
    assert route_events(handed[0])[0].data["skipped"] == {"cyd": "off_hours"}


# ---------------------------------------------------------------------------------------------
# The queue: nobody can take it
# ---------------------------------------------------------------------------------------------
def test_a_lead_no_rep_can_take_waits_in_the_queue_its_manager_is_told_once_and_the_next_pass_routes_it(org):
    for rep in (org.ana, org.ben, org.cyd):
        away_today(org, rep)

    waiting = qualify(queue_leads(2))
    routing_queue_retry()  # still nobody: no second notice, no second event
    routing_queue_retry()

    assert all(h.owner_id is None for h in Handoff.objects.filter(pk__in=[h.pk for h in waiting]))
    (notice,) = RoutingNotice.objects.all()
    assert notice.team == org.emea and sorted(notice.handoff_ids) == sorted(h.pk for h in waiting)
    assert [len(route_events(h)) for h in waiting] == [1, 1]
    assert route_events(waiting[0])[0].data["owner"] is None
    routing = HandoffRouting.objects.get(handoff=waiting[0])
    assert routing.status == RoutingStatus.QUEUED and routing.attempts == 3

    routing_notices_send()
    (message,) = mail.outbox
    assert message.to == ["mia@example.com"]
    assert "2 leads waiting in EMEA's queue" in message.subject
    assert "ana: out of office" in message.body

    AwayPeriod.objects.filter(user=org.ben).delete()  # ben is back
    result = routing_queue_retry()

    assert set(result.routed) == {h.pk for h in waiting}
    assert owners(waiting) == {"ben": 2}
    assert HandoffRouting.objects.get(handoff=waiting[0]).status == RoutingStatus.ROUTED
    assert RoutingNotice.objects.count() == 1


def test_a_lead_given_by_hand_leaves_the_queue(org):
    for rep in (org.ana, org.ben, org.cyd):
        away_today(org, rep)
    (waiting,) = qualify(queue_leads(1))

    machine.handoffs_reassign(handoffs=[waiting], actor=Actor.person(org.mia), owner=org.ana)

    assert HandoffRouting.objects.get(handoff=waiting).status == RoutingStatus.TAKEN
    assert not routing_queue_retry().routed


# ---------------------------------------------------------------------------------------------
# Re-routing after an SLA breach
# ---------------------------------------------------------------------------------------------
def test_the_escalation_gives_the_lead_back_and_routing_skips_the_rep_who_breached(org, time_machine):
    SlaPolicy.objects.filter(is_active=True).update(escalation=Escalation.QUEUE)
    org.weights(ana=5)  # ana would get it again, were she not skipped
    (handoff,) = qualify(queue_leads(1, lead_source="Demo Request"))  # hot: 15 business minutes to accept
    assert handoff.owner == org.ana

    time_machine.move_to(MONDAY_MORNING + timedelta(minutes=20), tick=False)
    sla_scan(kind="breach")

    handoff.refresh_from_db()
    assert handoff.owner in (org.ben, org.cyd)
    last = route_events(handoff)[-1]
    assert last.data["skipped"] == {"ana": "breached"}
    assert HandoffRouting.objects.get(handoff=handoff).excluded == [org.ana.pk]
    # The new owner gets fresh clocks from now: round 2, the first round's unmet ones stopped.
    accept = Milestone.objects.get(handoff=handoff, kind=K.ACCEPT, round=2)
    assert accept.started_at == MONDAY_MORNING + timedelta(minutes=20)
    assert not Milestone.objects.filter(handoff=handoff, round=1, met_at=None, stopped_at=None,
                                        breached_at=None).exists()


# ---------------------------------------------------------------------------------------------
# SLA, audit, write-back
# ---------------------------------------------------------------------------------------------
def test_the_accept_clock_starts_at_routing_in_the_new_owner_s_calendar(org, time_machine):
    for rep in (org.ana, org.ben, org.cyd):
        away_today(org, rep)
    (handoff,) = qualify(queue_leads(1))  # waits in the queue from Monday 10:00 UTC
    berlin = BusinessCalendar.objects.create(name="Berlin", time_zone="Europe/Berlin")
    RepProfile.objects.filter(user=org.ben).update(calendar=berlin)
    AwayPeriod.objects.filter(user=org.ben).delete()
    routed_at = MONDAY_MORNING + timedelta(hours=2)  # 13:00 in Berlin
    time_machine.move_to(routed_at, tick=False)
    routing_queue_retry()

    accept = Milestone.objects.get(handoff=handoff, kind=K.ACCEPT)
    assert accept.started_at == routed_at and accept.calendar == berlin
    # The standard segment's 24 business hours, in Berlin's 9–17: three working days on, Thursday 13:00 there.
    assert accept.due_at == routed_at + timedelta(days=3)


def test_a_lead_routed_as_it_is_qualified_has_its_clocks_in_the_new_owner_s_calendar(org, time_machine):
    time_machine.move_to(MONDAY_MORNING, tick=False)
    # Qualified Monday 10:00 UTC (06:00 in New York) and routed in the same transaction: its clocks, started in the
    # queue's (default, UTC) calendar, move to the owner's; the owner who keeps the default keeps them as they are.
    new_york = BusinessCalendar.objects.create(name="New York", time_zone="America/New_York")
    RepProfile.objects.filter(user=org.ana).update(calendar=new_york)
    away_today(org, org.cyd)
    to_ana, to_ben = qualify(queue_leads(2))  # ties go to the lower id: ana, then ben

    assert (to_ana.owner_id, to_ben.owner_id) == (org.ana.pk, org.ben.pk)
    accept = Milestone.objects.get(handoff=to_ana, kind=K.ACCEPT)
    assert (accept.started_at, accept.calendar) == (MONDAY_MORNING, new_york)
    # 24 business hours in New York's 9–17 (EDT since March 8) from Monday 09:00 there: Wednesday 17:00 there; the
    # reminder after 18 of them, Wednesday 11:00 there.
    assert (accept.due_at, accept.remind_at) == (datetime(2026, 3, 11, 21, tzinfo=UTC),
                                                  datetime(2026, 3, 11, 15, tzinfo=UTC))
    accept = Milestone.objects.get(handoff=to_ben, kind=K.ACCEPT)
    assert accept.calendar.is_default and accept.started_at == MONDAY_MORNING
    # The default's 9–17 UTC from 10:00: Thursday 10:00, the reminder Wednesday 12:00.
    assert (accept.due_at, accept.remind_at) == (datetime(2026, 3, 12, 10, tzinfo=UTC),
                                                  datetime(2026, 3, 11, 12, tzinfo=UTC))


def test_every_decision_is_in_the_handoff_s_history(org):
    away_today(org, org.ana)
    rep_routing_update(rep=org.ben, actor=Actor.person(org.mia), daily_cap=1)
    qualify(queue_leads(1))  # ben's one for today (ties go to the lower id: ben before cyd)
    (handoff,) = qualify(queue_leads(1))

    (event,) = route_events(handoff)
    assert event.actor_kind == "routing" and event.from_state == event.to_state == "qualified"
    assert event.data == {
        "rules": org.rules.version,
        "territory": "DACH",
        "team": "EMEA",
        "considered": ["cyd"],
        "skipped": {"ana": "away", "ben": "daily_cap"},
        "owner": "cyd",
    }


def test_the_new_owner_is_written_back_to_the_crm_as_owner_id(org):
    handed = qualify(queue_leads(3))

    rows = WriteBack.objects.filter(action="route").select_related("event")
    assert sorted((row.lead_id, row.changes["OwnerId"]) for row in rows) == sorted(
        (h.lead_id, Handoff.objects.get(pk=h.pk).owner.profile.crm_user_id) for h in handed
    )
    assert all(row.event.action == "route" and row.status == WriteBack.Status.PENDING for row in rows)


def test_history_replayed_owes_the_crm_nothing(org):
    machine.handoffs_qualify(lead_ids=queue_leads(2), actor=Actor.rule().replaying())

    assert Handoff.objects.filter(owner__isnull=False).count() == 2
    assert not WriteBack.objects.filter(action="route").exists()


def test_an_owner_the_crm_refuses_is_shown_with_the_crm_s_error(org):
    (handoff,) = qualify(queue_leads(1))
    WriteBack.objects.filter(action="route").update(
        status=WriteBack.Status.FAILED, error_code="FIELD_INTEGRITY_EXCEPTION", error="Owner ID: id value of "
        "incorrect type"
    )

    shown = owner_writebacks([handoff.pk])[handoff.pk]
    assert shown.status == "failed" and shown.error.startswith("Owner ID")


# ---------------------------------------------------------------------------------------------
# Versions
# ---------------------------------------------------------------------------------------------
def test_a_version_that_routed_a_lead_is_frozen_and_a_revision_is_version_n_plus_1(org):
    (handoff,) = qualify(queue_leads(1))

    org.rules.refresh_from_db()
    org.rules.territories = []
    with pytest.raises(ValidationError, match="already routed leads"):
        org.rules.save()
    revised = routing_rules_revise(rules=org.rules, territories=[], catch_all_team=org.emea)

    assert revised.version == org.rules.version + 1 and revised.is_active
    assert not RoutingRules.objects.get(pk=org.rules.pk).is_active
    assert HandoffRouting.objects.get(handoff=handoff).rules == org.rules
    (later,) = qualify(queue_leads(1, country="US"))
    assert later.owner.profile.team == org.emea  # the new catch-all
    assert HandoffRouting.objects.get(handoff=later).rules == revised


def test_a_version_that_routed_nobody_is_edited_in_place(org):
    revised = routing_rules_revise(rules=org.rules, territories=TERRITORIES[:1])

    assert revised.pk == org.rules.pk and len(revised.territories) == 1


@pytest.mark.parametrize(
    ("territories", "says"),
    [
        ([{"name": "X", "conditions": [{"field": "planet", "op": "=", "value": "Mars"}], "team": "EMEA"}],
         "leads have no field 'planet'"),
        ([{"name": "X", "conditions": [{"field": "country", "op": "=", "value": "DE"}], "team": "Atlantis"}],
         "no team 'Atlantis'"),
        ([{"name": "X", "conditions": [], "team": "EMEA"}], "non-empty list"),
        ([{"name": "X", "conditions": [{"field": "score", "op": ">=", "value": "high"}], "team": "EMEA"}],
         "expected a number"),
        ({"name": "X"}, "must be a list"),
    ],
)
def test_bad_territories_are_refused_naming_the_field_and_nothing_is_written(org, territories, says):
    with pytest.raises(InvalidInput, match=says) as refused:
        routing_rules_save(rules=RoutingRules(name="Bad", territories=territories, catch_all_team=org.emea))

    assert refused.value.field == "territories"
    assert RoutingRules.objects.count() == 1


def test_teams_are_stored_by_id_so_a_renamed_team_keeps_its_territories(org):
    assert [t["team"] for t in org.rules.territories] == [org.emea.pk, org.emea.pk]
    org.emea.name = "Europe"
    org.emea.save()

    (handoff,) = qualify(queue_leads(1))
    assert handoff.owner.profile.team == org.emea


# ---------------------------------------------------------------------------------------------
# Settings: bad input names the field, the role is checked
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "field"),
    [({"weight": 0}, "weight"), ({"weight": -1}, "weight"), ({"weight": "2"}, "weight"),
     ({"daily_cap": 0}, "daily_cap"), ({"open_cap": True}, "open_cap")],
)
def test_bad_weights_and_caps_are_refused_naming_the_field(org, changes, field):
    with pytest.raises(InvalidInput) as refused:
        rep_routing_update(rep=org.ana, actor=Actor.person(org.mia), **changes)

    assert refused.value.field == field
    assert not RepRouting.objects.filter(user=org.ana).exclude(weight=1).exists()


def test_an_away_period_that_ends_before_it_starts_is_refused(org):
    with pytest.raises(InvalidInput) as refused:
        away_period_set(rep=org.ana, actor=Actor.person(org.ana), starts_on=date(2026, 3, 10), ends_on=date(2026, 3, 9))

    assert refused.value.field == "ends_on"


def test_only_the_rep_s_manager_changes_weights_and_only_the_rep_or_manager_sets_them_away(org):
    for who in (org.otto, org.ana, org.marketer):
        with pytest.raises(NotAllowed):
            rep_routing_update(rep=org.ben, actor=Actor.person(who), weight=3)
    for who in (org.otto, org.cyd):
        with pytest.raises(NotAllowed):
            away_period_set(rep=org.ben, actor=Actor.person(who), starts_on=date(2026, 3, 9), ends_on=date(2026, 3, 9))
    with pytest.raises(NotAllowed):
        team_routing_update(team=org.emea, actor=Actor.person(org.otto), skip_outside_hours=True)
    assert not TeamRouting.objects.exists()


def test_an_unknown_rep_is_refused_naming_the_field(org):
    with pytest.raises(InvalidInput) as refused:
        rep_routing_update(rep=org.mia.pk, actor=Actor.person(org.mia), weight=2)  # a manager, not a rep

    assert refused.value.field == "rep"


def test_no_rules_in_force_no_routing(org):
    RoutingRules.objects.update(is_active=False)

    (handoff,) = qualify(queue_leads(1))

    assert handoff.owner_id is None and not HandoffRouting.objects.exists()
    assert handoffs_route(handoff_ids=[handoff.pk]).routed == {}


def test_a_team_without_reps_keeps_its_leads_in_the_queue(org):
    make_user("solo", "manager")
    RepProfile.objects.filter(team=org.americas).update(team=None)

    (handoff,) = qualify(queue_leads(1, country="US"))

    assert handoff.owner_id is None
    (notice,) = RoutingNotice.objects.all()
    assert notice.team == org.americas and notice.reasons == {}


def test_the_periodic_task_retries_the_queue(org):
    for rep in (org.ana, org.ben, org.cyd):
        away_today(org, rep)
    waiting = qualify(queue_leads(3))
    AwayPeriod.objects.filter(user=org.cyd).delete()

    assert routing_pass_task() == {"routed": 3, "waiting": 0, "passed_over": 0}
    assert owners(waiting) == {"cyd": 3}
    assert routing_pass_task() == {"routed": 0, "waiting": 0, "passed_over": 0}
