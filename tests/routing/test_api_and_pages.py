"""Routing through the API and the pages: who sees and changes what; bad input is a 400 naming the field, nothing
written."""
from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from handoff.models import AwayPeriod, RepRouting, TeamRouting
from handoff.services.actors import Actor
from handoff.services.routing import away_period_set

from .conftest import MONDAY_MORNING, qualify, queue_leads

pytestmark = pytest.mark.time_machine(MONDAY_MORNING)


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_manager_reads_their_team_s_reps_as_routing_sees_them_a_rep_only_themselves(org):
    away_period_set(rep=org.ana, actor=Actor.person(org.ana), starts_on=MONDAY_MORNING.date(),
                    ends_on=MONDAY_MORNING.date())
    qualify(queue_leads(2))

    team = {row["username"]: row for row in api(org.mia).get("/api/routing/reps/").json()}
    mine = api(org.ben).get("/api/routing/reps/").json()

    assert set(team) == {"ana", "ben", "cyd"}
    assert team["ana"]["status"] == "away" and team["ana"]["away_until"] == "2026-03-09"
    assert team["ben"]["leads_today"] + team["cyd"]["leads_today"] == 2 and team["ben"]["status"] == "active"
    assert [row["username"] for row in mine] == ["ben"]
    assert api(org.marketer).get("/api/routing/reps/").json() == []
    assert api(org.otto).get(f"/api/routing/reps/{org.ana.pk}/").status_code == 404


def test_a_manager_changes_a_rep_s_weight_and_caps(org):
    response = api(org.mia).patch(f"/api/routing/reps/{org.ana.pk}/", {"weight": 3, "daily_cap": 10}, format="json")

    assert response.status_code == 200, response.json()
    assert (response.json()["weight"], response.json()["daily_cap"]) == (3, 10)
    assert RepRouting.objects.get(user=org.ana).weight == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [({"weight": 0}, "weight"), ({"weight": "2"}, "weight"), ({"weight": 1.5}, "weight"),
     ({"daily_cap": -3}, "daily_cap"), ({"open_cap": 0}, "open_cap")],
)
def test_a_bad_weight_or_cap_is_a_400_naming_the_field_and_nothing_is_written(org, body, field):
    response = api(org.mia).patch(f"/api/routing/reps/{org.ana.pk}/", body, format="json")

    assert response.status_code == 400 and response.json()["field"] == field
    assert not RepRouting.objects.filter(user=org.ana).exists()


def test_a_rep_cannot_change_their_own_weight(org):
    response = api(org.ana).patch(f"/api/routing/reps/{org.ana.pk}/", {"weight": 9}, format="json")

    assert response.status_code == 403
    assert not RepRouting.objects.filter(user=org.ana).exists()


def test_a_rep_sets_themselves_away_and_removes_it(org):
    created = api(org.ana).post("/api/routing/away/", {"starts_on": "2026-03-10", "ends_on": "2026-03-12",
                                                       "note": "Conference"}, format="json")

    assert created.status_code == 201, created.json()
    assert created.json()["rep"]["username"] == "ana" and created.json()["set_by"]["username"] == "ana"
    period = AwayPeriod.objects.get()
    assert api(org.ana).delete(f"/api/routing/away/{period.pk}/").status_code == 204
    assert not AwayPeriod.objects.exists()


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"starts_on": "2026-03-12", "ends_on": "2026-03-10"}, 400, "ends_on"),
        ({"starts_on": "2026-02-30", "ends_on": "2026-03-10"}, 400, "starts_on"),
        ({"ends_on": "2026-03-10"}, 400, "starts_on"),
        ({"rep": 999999, "starts_on": "2026-03-10", "ends_on": "2026-03-10"}, 400, "rep"),
        ({"rep": "ana", "starts_on": "2026-03-10", "ends_on": "2026-03-10"}, 400, "rep"),
    ],
)
def test_a_bad_away_period_is_a_400_naming_the_field_and_nothing_is_written(org, body, status, field):
    response = api(org.mia).post("/api/routing/away/", {"rep": org.ana.pk, **body}, format="json")

    assert response.status_code == status and response.json()["field"] == field
    assert not AwayPeriod.objects.exists()


def test_only_the_rep_or_their_manager_sets_them_away(org):
    body = {"rep": org.ana.pk, "starts_on": "2026-03-10", "ends_on": "2026-03-10"}

    assert api(org.ben).post("/api/routing/away/", body, format="json").status_code == 403
    assert api(org.otto).post("/api/routing/away/", body, format="json").status_code == 403
    assert api(org.mia).post("/api/routing/away/", body, format="json").status_code == 201


def test_the_queue_lists_what_waits_for_the_team_s_manager_only(org):
    for rep in (org.ana, org.ben, org.cyd):
        away_period_set(rep=rep, actor=Actor.person(rep), starts_on=MONDAY_MORNING.date(),
                        ends_on=MONDAY_MORNING.date())
    (waiting,) = qualify(queue_leads(1))

    (row,) = api(org.mia).get("/api/routing/queue/").json()
    assert row["handoff"] == waiting.pk and row["team"]["name"] == "EMEA" and row["territory"] == "DACH"
    assert row["rules_version"] == org.rules.version
    assert api(org.otto).get("/api/routing/queue/").json() == []
    assert api(org.ana).get("/api/routing/queue/").status_code == 403


def test_the_rules_in_force_are_readable_with_their_teams(org):
    (rules,) = api(org.ana).get("/api/routing/rules/").json()

    assert rules["is_active"] and rules["catch_all_team"] == {"id": org.americas.pk, "name": "Americas"}
    assert rules["territories"][0]["team"] == org.emea.pk


# ---------------------------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------------------------
def test_the_manager_s_page_shows_each_rep_s_status_leads_today_share_and_the_queue(org):
    away_period_set(rep=org.ana, actor=Actor.person(org.mia), starts_on=MONDAY_MORNING.date(),
                    ends_on=MONDAY_MORNING.date())
    qualify(queue_leads(4))
    RepRouting.objects.filter(user=org.cyd).update(daily_cap=2)
    for rep in (org.ben, org.cyd):
        away_period_set(rep=rep, actor=Actor.person(org.mia), starts_on=MONDAY_MORNING.date(),
                        ends_on=MONDAY_MORNING.date())
    (waiting,) = qualify(queue_leads(1))

    page = browser(org.mia).get("/routing/")

    text = page.content.decode()
    assert page.status_code == 200
    assert "EMEA" in text and "out of office" in text and "By region" in text
    assert f'href="/leads/{waiting.lead_id}/"' in text  # the queue
    assert "Americas" not in text.split("<main", 1)[-1].split("Routing", 1)[-1].split("EMEA")[0]


def test_the_manager_sets_a_rep_away_and_changes_a_weight_on_the_page(org):
    client = browser(org.mia)

    away = client.post("/routing/away/", {"rep": org.ben.pk, "starts_on": "2026-03-09", "ends_on": "2026-03-13"})
    share = client.post(f"/routing/reps/{org.ben.pk}/", {"weight": 4, "daily_cap": "", "open_cap": "8"})
    team = client.post(f"/routing/teams/{org.emea.pk}/", {"skip_outside_hours": "on"})

    assert away.status_code == share.status_code == team.status_code == 302
    assert AwayPeriod.objects.get().user == org.ben
    assert (RepRouting.objects.get(user=org.ben).weight, RepRouting.objects.get(user=org.ben).open_cap) == (4, 8)
    assert TeamRouting.objects.get(team=org.emea).skip_outside_hours


def test_a_bad_form_on_the_page_is_refused_with_a_message_and_nothing_written(org):
    client = browser(org.mia)

    response = client.post("/routing/away/", {"rep": org.ben.pk, "starts_on": "2026-03-13", "ends_on": "2026-03-09"},
                           follow=True)
    weight = client.post(f"/routing/reps/{org.ben.pk}/", {"weight": 0}, follow=True)

    assert "cannot end before it starts" in response.content.decode()
    assert "weight" in weight.content.decode().lower()
    assert not AwayPeriod.objects.exists() and not RepRouting.objects.filter(user=org.ben).exists()


def test_a_rep_sees_their_own_routing_and_sets_themselves_away(org):
    client = browser(org.ana)

    page = client.get("/routing/")
    client.post("/routing/away/", {"starts_on": "2026-03-10", "ends_on": "2026-03-11", "note": "Dentist"})

    assert page.status_code == 200 and "Set me away" in page.content.decode()
    assert AwayPeriod.objects.get().user == org.ana


def test_the_page_is_usable_at_390_pixels(org):
    page = browser(org.mia).get("/routing/").content.decode()

    assert 'class="table-wrap"' in page and 'name="viewport"' in page
