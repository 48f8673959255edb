"""GET the lists and details: who sees what, the filters, cursor pages, reason codes and definitions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from handoff.models import ReasonCode
from handoff.services import handoffs as machine
from handoff.services.definitions import definition_create

from ..factories import make_lead

pytestmark = pytest.mark.django_db


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def every_page(client, url: str, params: dict) -> list[list[int]]:
    pages, response = [], client.get(url, params)
    while True:
        pages.append(ids(response))
        if not response.json()["next"]:
            return pages
        response = client.get(response.json()["next"])


# ---------------------------------------------------------------------------------------------
# Visibility
# ---------------------------------------------------------------------------------------------
def test_a_rep_sees_only_their_own_handoffs(api, cast, qualified):
    theirs = machine.handoff_qualify(lead=make_lead(owner=cast.other_rep), actor=cast.actor("marketer"))

    assert ids(api("rep").get("/api/handoffs/")) == [qualified.pk]
    assert ids(api("other_rep").get("/api/handoffs/")) == [theirs.pk]
    assert api("other_rep").get(f"/api/handoffs/{qualified.pk}/").status_code == 404
    assert sorted(ids(api("marketer").get("/api/handoffs/"))) == sorted([qualified.pk, theirs.pk])
    assert ids(api("manager").get("/api/handoffs/")) == [qualified.pk]
    assert ids(api("other_manager").get("/api/handoffs/")) == [theirs.pk]


def test_a_rep_sees_only_their_own_leads(api, cast, lead):
    theirs = make_lead(owner=cast.other_rep)

    assert ids(api("rep").get("/api/leads/")) == [lead.pk]
    assert api("rep").get(f"/api/leads/{theirs.pk}/").status_code == 404
    assert sorted(ids(api("marketer").get("/api/leads/"))) == sorted([lead.pk, theirs.pk])


def test_the_detail_shows_the_lead_history_and_what_the_reader_may_do_now(api, cast, qualified):
    body = api("rep").get(f"/api/handoffs/{qualified.pk}/").json()

    assert body["lead"]["id"] == qualified.lead_id and body["lead"]["name"] == str(qualified.lead)
    assert body["owner"]["username"] == "rita.rep"
    assert body["definition"] == {"id": qualified.definition_id, "version": 1, "name": qualified.definition.name}
    assert [(e["action"], e["to_state"], e["actor"]["username"]) for e in body["events"]] == [
        ("qualify", "qualified", "mark.marketer")
    ]
    assert body["actions"] == ["accept", "reject"]
    assert api("marketer").get(f"/api/handoffs/{qualified.pk}/").json()["actions"] == []
    assert api("manager").get(f"/api/handoffs/{qualified.pk}/").json()["actions"] == ["accept", "reject", "reassign"]


# ---------------------------------------------------------------------------------------------
# Filters
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def spread(cast):
    """Four handoffs a day apart (newest last): the rep's accepted, qualified and rejected ones, one of another team."""
    now = timezone.now()
    marketer = cast.actor("marketer")
    made = [
        machine.handoff_qualify(lead=make_lead(owner=owner), actor=marketer, at=now - timedelta(days=4 - n))
        for n, owner in enumerate([cast.rep, cast.rep, cast.rep, cast.other_rep])
    ]
    machine.handoff_accept(handoff=made[0], actor=cast.actor("rep"))
    machine.handoff_reject(handoff=made[2], actor=cast.actor("rep"), reason="student")
    return made


def test_handoffs_filter_by_state_owner_team_lead_and_dates(api, cast, spread):
    client = api("marketer")
    url = "/api/handoffs/"
    accepted, qualified, rejected, other = (h.pk for h in spread)

    assert ids(client.get(url)) == [other, rejected, qualified, accepted]
    assert ids(client.get(url, {"state": ["accepted", "rejected"]})) == [rejected, accepted]
    assert ids(client.get(url, {"owner": cast.other_rep.pk})) == [other]
    assert ids(client.get(url, {"team": cast.team.pk})) == [rejected, qualified, accepted]
    assert ids(client.get(url, {"lead": spread[1].lead_id})) == [qualified]
    assert ids(client.get(url, {"sequence": 2})) == []
    middle = spread[1].handed_at.isoformat()
    assert ids(client.get(url, {"handed_after": middle})) == [other, rejected, qualified]
    assert ids(client.get(url, {"handed_before": middle})) == [accepted]
    assert ids(
        client.get(url, {"qualified_after": middle, "qualified_before": spread[3].qualified_at.isoformat()})
    ) == [
        rejected,
        qualified,
    ]
    assert ids(client.get(url, {"definition_version": 1})) == [other, rejected, qualified, accepted]
    assert ids(client.get(url, {"definition_version": 2})) == []


def test_handoffs_filter_by_definition_version_in_force_at_qualification(api, cast, qualified):
    definition_create(name="Stricter", conditions=[{"field": "score", "op": ">=", "value": 80}], activate=True)
    later = machine.handoff_qualify(lead=make_lead(owner=cast.rep), actor=cast.actor("marketer"))

    assert ids(api("rep").get("/api/handoffs/", {"definition_version": 2})) == [later.pk]
    assert ids(api("rep").get("/api/handoffs/", {"definition_version": 1})) == [qualified.pk]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"state": "lost"}, "state"), ({"handed_after": "last tuesday"}, "handed_after"), ({"owner": "raj"}, "owner")],
)
def test_a_bad_filter_is_a_400_naming_it(api, spread, params, field):
    response = api("marketer").get("/api/handoffs/", params)

    assert response.status_code == 400
    assert response.json()["field"] == field


def test_leads_filter_by_search_owner_flags_and_qualification(api, cast, qualified):
    client = api("marketer")
    url = "/api/leads/"
    grace = make_lead(owner=cast.other_rep, first_name="Grace", last_name="Hopper", company="Navy", country="US")
    gone = make_lead(owner=cast.rep, is_deleted=True, lead_source="Event", status="Closed - Not Converted")
    won = make_lead(owner=None, is_converted=True)
    everyone = {qualified.lead_id, grace.pk, gone.pk, won.pk}

    assert set(ids(client.get(url))) == everyone
    assert ids(client.get(url, {"search": "hopper"})) == [grace.pk]
    assert ids(client.get(url, {"search": "navy"})) == [grace.pk]
    assert ids(client.get(url, {"search": grace.crm_id})) == [grace.pk]
    assert ids(client.get(url, {"owner": cast.other_rep.pk})) == [grace.pk]
    assert ids(client.get(url, {"country": "us"})) == [grace.pk]
    assert ids(client.get(url, {"is_deleted": "true"})) == [gone.pk]
    assert ids(client.get(url, {"is_converted": "true"})) == [won.pk]
    assert ids(client.get(url, {"lead_source": "Event", "status": "Closed - Not Converted"})) == [gone.pk]
    assert ids(client.get(url, {"qualified": "true"})) == [qualified.lead_id]
    assert set(ids(client.get(url, {"qualified": "false"}))) == everyone - {qualified.lead_id}
    assert client.get(f"/api/leads/{qualified.lead_id}/").json()["open_handoff"] == qualified.pk


# ---------------------------------------------------------------------------------------------
# Cursor pages
# ---------------------------------------------------------------------------------------------
def test_handoffs_come_in_cursor_pages_newest_hand_over_first(api, cast):
    now = timezone.now()
    made = [
        machine.handoff_qualify(
            lead=make_lead(owner=cast.rep), actor=cast.actor("marketer"), at=now - timedelta(hours=h)
        )
        for h in (3, 1, 5, 2, 4)
    ]
    newest_first = [h.pk for h in sorted(made, key=lambda h: h.handed_at, reverse=True)]

    pages = every_page(api("rep"), "/api/handoffs/", {"page_size": 2})

    assert pages == [newest_first[0:2], newest_first[2:4], newest_first[4:]]


def test_a_handoff_handed_back_after_a_dispute_moves_to_the_top(api, cast, qualified):
    rejected = machine.handoff_reject(handoff=qualified, actor=cast.actor("rep"), reason="student")
    newer = machine.handoff_qualify(lead=make_lead(owner=cast.rep), actor=cast.actor("marketer"))
    machine.handoff_dispute(handoff=rejected, actor=cast.actor("marketer"), reason="meets_definition")
    machine.handoff_resolve(handoff=rejected, actor=cast.actor("manager"), decision="overturn")

    assert ids(api("rep").get("/api/handoffs/")) == [qualified.pk, newer.pk]


def test_leads_come_in_cursor_pages_newest_crm_creation_first(api, cast):
    now = timezone.now()
    made = [make_lead(owner=cast.rep, crm_created_at=now - timedelta(days=d)) for d in (2, 5, 1, 4, 3)]
    newest_first = [lead.pk for lead in sorted(made, key=lambda lead: lead.crm_created_at, reverse=True)]

    pages = every_page(api("rep"), "/api/leads/", {"page_size": 3})

    assert pages == [newest_first[:3], newest_first[3:]]


# ---------------------------------------------------------------------------------------------
# Reference data
# ---------------------------------------------------------------------------------------------
def test_reason_codes_list_the_active_codes_of_a_kind(api):
    ReasonCode.objects.filter(kind="reject", code="competitor").update(is_active=False)

    body = api("rep").get("/api/reason-codes/", {"kind": "reject"}).json()

    codes = {row["code"] for row in body}
    assert codes == set(ReasonCode.objects.filter(kind="reject", is_active=True).values_list("code", flat=True))
    assert "competitor" not in codes and "student" in codes
    assert {row["kind"] for row in body} == {"reject"}
    assert next(row for row in body if row["code"] == "other")["requires_note"] is True


def test_definitions_list_every_version_read_only(api, cast):
    definition_create(name="Stricter", conditions=[{"field": "score", "op": ">=", "value": 80}], activate=True)
    client = api("manager")

    body = client.get("/api/definitions/").json()

    assert [(row["version"], row["is_active"]) for row in body] == [(2, True), (1, False)]
    assert body[0]["conditions"] == [{"field": "score", "op": ">=", "value": 80}]
    assert client.post("/api/definitions/", {"name": "Mine"}, format="json").status_code == 405
    assert client.delete(f"/api/definitions/{body[0]['id']}/").status_code == 405


# ---------------------------------------------------------------------------------------------
# Cost
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["/api/handoffs/", "/api/leads/"])
def test_a_page_costs_the_same_queries_for_three_rows_or_thirty(api, cast, django_assert_max_num_queries, url):
    def make(n: int) -> None:
        leads = [make_lead(owner=cast.rep) for _ in range(n)]
        machine.handoffs_qualify(lead_ids=[lead.pk for lead in leads], actor=cast.actor("marketer"))

    client = api("manager")
    make(3)
    with django_assert_max_num_queries(20) as few:
        client.get(url)
    make(27)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(client.get(url).json()["results"]) == 30
