"""`manage.py seed_demo`: a login per role and a believable, deterministic history in every handoff state."""
from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from handoff.demo import cast, names, stories
from handoff.models import (
    FeedbackDigest,
    Handoff,
    HandoffEvent,
    HandoffState,
    Lead,
    LeadDefinition,
    LeadFeedback,
    LeadFeedbackRevision,
    Milestone,
    Role,
    Team,
    Touch,
    WriteBack,
)
from handoff.models.handoffs import ActorKind
from handoff.models.sla import RUNNING
from handoff.selectors.calendars import people_time_zones
from handoff.selectors.quality import lead_quality
from handoff.services.handoffs import leads_qualify_by_rule

LEADS = 120
STATUSES = {"Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted"}


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    models = (User, Team, Lead, Handoff, HandoffEvent, Touch, LeadDefinition, WriteBack)
    return {model.__name__: model.objects.count() for model in models}


@pytest.fixture(scope="class")
def seeded(django_db_setup, django_db_blocker):
    """One seeding shared by the tests of a class (each test still runs in its own savepoint), rolled back after."""
    with django_db_blocker.unblock(), transaction.atomic():
        output = seed("--leads", str(LEADS))
        yield output
        transaction.set_rollback(True)


@pytest.mark.django_db  # every test among the database tests, so none runs after a transactional test's flush
@pytest.mark.usefixtures("seeded")
class TestSeededDemo:
    def test_every_role_can_log_in_with_the_shared_password(self, db):
        for login in cast.LOGINS:
            user = authenticate(username=login.username, password=cast.PASSWORD)
            assert user is not None, login.username
            if login.role:
                assert list(user.groups.values_list("name", flat=True)) == [login.role]
        admin = User.objects.get(username="admin")
        assert admin.is_superuser and admin.is_staff
        assert {u.username for u in User.objects.filter(groups__name=Role.SALES_REP)} == {"raj", "sofia", "li", "tom"}
        assert Team.objects.get(name="Americas").manager.username == "grace"
        assert Team.objects.get(name="EMEA").manager.username == "henrik"

    def test_prints_every_login_and_the_password(self, seeded):
        for login in cast.LOGINS:
            assert login.username in seeded
        assert cast.PASSWORD in seeded
        assert f"Seeded {LEADS} leads" in seeded

    def test_reps_work_in_their_teams_time_zone_with_a_crm_user_id(self, db):
        zones = {"Americas": "America/New_York", "EMEA": "Europe/Berlin"}
        reps = User.objects.filter(groups__name=Role.SALES_REP).select_related("profile__team")
        assert reps.count() == 4
        zone_of = people_time_zones(rep.pk for rep in reps)
        for rep in reps:
            assert str(zone_of[rep.pk]) == zones[rep.profile.team.name]
            assert len(rep.profile.crm_user_id) == 18 and rep.profile.crm_user_id.startswith("005")

    def test_each_team_works_by_its_own_calendar_with_its_countrys_holidays(self, db):
        americas, emea = (Team.objects.select_related("calendar").get(name=name) for name in ("Americas", "EMEA"))
        assert (americas.calendar.time_zone, americas.calendar.holiday_country) == ("America/New_York", "US")
        assert (emea.calendar.time_zone, emea.calendar.holiday_country) == ("Europe/Berlin", "DE")
        # The marketer has no team: she works by the calendar of her city, Berlin.
        maya = User.objects.get(username="maya")
        assert people_time_zones([maya.pk]) == {maya.pk: ZoneInfo("Europe/Berlin")}
        # Every clock of a rep's handoff runs in the rep's team's hours: New York's due times fall in New York hours.
        running = Milestone.objects.filter(RUNNING, handoff__owner__username="raj")
        assert running.exists() and set(running.values_list("calendar_id", flat=True)) == {americas.calendar.pk}
        new_york = ZoneInfo("America/New_York")
        for due in Milestone.objects.filter(calendar=americas.calendar).values_list("due_at", flat=True):
            local = due.astimezone(new_york)
            assert local.weekday() < 5 and time(9) < local.time() <= time(17), local

    def test_leads_look_like_salesforce_leads(self, db):
        leads = list(Lead.objects.all())
        assert len(leads) == LEADS
        now = timezone.now()
        for lead in leads:
            assert len(lead.crm_id) == 18 and lead.crm_id.startswith("00Q")
            assert lead.raw["Id"] == lead.crm_id and lead.raw["LeadSource"] == lead.lead_source
            assert lead.status in STATUSES and lead.raw["Status"] == lead.status
            assert 0 <= lead.score <= 100
            assert lead.phone.startswith("+") and lead.raw["Phone"] == lead.phone
            assert lead.lead_source in names.LEAD_SOURCES
            assert now - timedelta(weeks=9) < lead.crm_created_at <= lead.crm_modified_at < now
        assert any(not name.isascii() for lead in leads for name in (lead.first_name, lead.last_name))
        assert len({lead.country for lead in leads}) > 5 and len({lead.industry for lead in leads}) > 5
        assert any(lead.mobile_phone for lead in leads) and not all(lead.mobile_phone for lead in leads)

    def test_history_has_handoffs_in_every_state(self, db):
        assert set(Handoff.objects.values_list("state", flat=True)) == set(HandoffState.values)

    def test_recycled_leads_come_back_as_later_handoffs(self, db):
        assert Handoff.objects.filter(sequence=2).exists()
        assert Handoff.objects.filter(sequence=3).exists()
        for handoff in Handoff.objects.filter(sequence__gt=1).select_related("lead"):
            earlier = handoff.lead.handoffs.filter(sequence=handoff.sequence - 1).get()
            assert earlier.state == HandoffState.RECYCLED and earlier.recycled_at < handoff.qualified_at

    def test_every_event_log_reads_in_order_and_lies_in_the_past(self, db):
        by_lead, by_handoff = defaultdict(list), defaultdict(list)
        for event in HandoffEvent.objects.order_by("id").select_related("handoff"):
            by_lead[event.lead_id].append(event)
            by_handoff[event.handoff].append(event)
        now = timezone.now()
        for events in by_lead.values():
            times = [e.at for e in events]
            assert times == sorted(set(times)) and times[-1] < now
        for handoff, events in by_handoff.items():
            assert events[0].action == "qualify" and events[0].at == handoff.qualified_at
            assert events[-1].to_state == handoff.state

    def test_older_handoffs_were_judged_by_v1_and_newer_ones_by_the_active_v2(self, db):
        v1, v2 = LeadDefinition.objects.get(version=1), LeadDefinition.objects.get(version=2)
        assert v2.is_active and not v1.is_active
        judged_by_v1 = Handoff.objects.filter(definition=v1).order_by("-qualified_at").first()
        judged_by_v2 = Handoff.objects.filter(definition=v2).order_by("qualified_at").first()
        assert judged_by_v1.qualified_at < judged_by_v2.qualified_at

    def test_the_stories_are_told_by_the_right_people(self, db):
        handoffs = Handoff.objects.all()
        assert {ActorKind.RULE, ActorKind.USER} <= set(handoffs.values_list("qualified_by_kind", flat=True))
        # Leads the CRM's queue held: routing gave them to a rep at the end of the history, or they still wait.
        assert handoffs.filter(state=HandoffState.QUALIFIED, routing__isnull=False).exists()
        rejects = HandoffEvent.objects.filter(action="reject")
        assert not rejects.filter(reason=None).exists()
        assert rejects.filter(reason__code="other").exclude(note="").exists()
        assert not rejects.filter(reason__code="other", note="").exists()
        decisions = HandoffEvent.objects.filter(action="resolve").values_list("data__decision", flat=True)
        assert set(decisions) == {"uphold", "overturn"}
        touches = Touch.objects.values_list("outcome", flat=True)
        assert set(touches) == {Touch.Outcome.ATTEMPT, Touch.Outcome.CONNECTED}
        for handoff in handoffs.filter(state=HandoffState.ACCEPTED).exclude(first_touch_at=None):
            assert handoff.accepted_at < handoff.first_touch_at
        assert all(h.lead.is_deleted for h in handoffs.filter(state=HandoffState.CLOSED))
        assert all(h.lead.is_converted for h in handoffs.filter(state=HandoffState.CONVERTED))
        assert all(h.lead.status == "Closed - Converted" for h in handoffs.filter(state=HandoffState.CONVERTED))

    def test_untagged_leads_are_left_for_the_marketer_and_the_rule_finds_nothing_new(self, db):
        untagged = Lead.objects.annotate(n=Count("handoffs")).filter(n=0)
        assert untagged.exists()
        assert leads_qualify_by_rule() == []

    def test_the_history_owes_the_crm_no_write_back(self, db):
        # The stories are replayed: the CRM already holds where they ended, so not even a skipped row is recorded.
        assert not WriteBack.objects.filter(status=WriteBack.Status.PENDING).exists()
        assert not WriteBack.objects.exists()

    def test_sales_gave_feedback_so_the_lead_quality_page_tells_a_story(self, db):
        report = lead_quality(start=(timezone.now() - timedelta(weeks=9)).date(), end=timezone.now().date())
        total = report.total
        assert total.answered > 0 and total.expired > 0 and total.asked > total.answered
        assert len([n for n in total.ratings if n]) >= 3 and total.top_reasons and total.top_rejects
        assert len(report.by_source) >= 3 and [row.label for row in report.by_definition] == ["v1", "v2"]
        assert LeadFeedbackRevision.objects.count() >= LeadFeedback.objects.count() > 0
        # The history's digests were written as the days went by, and none was mailed while seeding.
        assert FeedbackDigest.objects.exists()
        assert not FeedbackDigest.objects.filter(email_sent_at__isnull=False).exists()

    def test_routing_rules_are_in_force_and_the_leads_the_queue_held_show_each_decision(self, db):
        from handoff.models import HandoffRouting, RoutingRules

        rules = RoutingRules.objects.get(is_active=True)
        assert [t["name"] for t in rules.territories] == ["Europe, Middle East & Africa"]
        routed = HandoffRouting.objects.filter(status="routed").select_related("handoff__owner__profile__team")
        assert routed.exists()
        assert all(r.handoff.owner.profile.team_id == r.team_id for r in routed)
        event = HandoffEvent.objects.filter(action="route", handoff=routed[0].handoff).get()
        assert event.actor_kind == ActorKind.ROUTING and event.data["rules"] == rules.version
        assert set(event.data) >= {"territory", "team", "considered", "skipped", "owner"}
        # tom is away this week: no lead went to him, and each EMEA decision says why.
        assert not routed.filter(routed_to__username="tom").exists()
        emea = HandoffEvent.objects.filter(action="route", data__team="EMEA")
        assert all(e.data["skipped"].get("tom") == "away" for e in emea)

    def test_running_again_changes_nothing_and_prints_the_logins(self, db):
        before = counts()
        output = seed("--leads", str(LEADS))
        assert counts() == before
        assert "already seeded" in output and "henrik" in output


def test_the_default_seeding_makes_500_leads_in_every_state(db):
    seed()
    assert Lead.objects.count() == stories.DEFAULT_LEADS
    assert set(Handoff.objects.values_list("state", flat=True)) == set(HandoffState.values)


def test_the_same_seed_plans_the_same_history():
    now = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)

    def story(seed):
        return [(p.kind, p.fields, p.steps, p.final) for p in stories.demo_plan(leads=60, seed=seed, now=now)]

    assert story(7) == story(7)
    assert story(7) != story(8)


def test_seeding_refuses_to_take_over_an_existing_user_name(db):
    User.objects.create_user(username="admin", password="secret")
    with pytest.raises(CommandError, match="admin"):
        seed("--leads", "60")
    assert not Lead.objects.exists()
    assert authenticate(username="admin", password="secret") is not None


@pytest.mark.parametrize("leads", ["0", "49", "5001"])
def test_a_lead_count_out_of_range_is_refused_before_anything_is_written(db, leads):
    with pytest.raises(CommandError, match="leads"):
        seed("--leads", leads)
    assert counts()["User"] == 0 and not Lead.objects.exists()
