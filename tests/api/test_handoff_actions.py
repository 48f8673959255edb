"""POST /api/handoffs/{id}/<action>/: each action through the state machine, and every way it says no."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handoff.models import Handoff, HandoffEvent, HandoffState, Touch
from handoff.services import handoffs as machine
from tests.factories import make_lead

pytestmark = pytest.mark.django_db

S = HandoffState


def post(client, handoff, action, body=None):
    return client.post(f"/api/handoffs/{handoff.pk}/{action}/", body or {}, format="json")


def events(handoff) -> list[tuple[str, str, str]]:
    return list(HandoffEvent.objects.filter(handoff=handoff).values_list("action", "from_state", "to_state"))


# ---------------------------------------------------------------------------------------------
# 200: the action happened, is recorded, and the answer is the handoff as it is now
# ---------------------------------------------------------------------------------------------
def test_the_rep_accepts_a_lead_handed_to_them(api, cast, qualified):
    response = post(api("rep"), qualified, "accept", {"note": "Calling today"})

    assert response.status_code == 200
    qualified.refresh_from_db()
    assert qualified.state == S.ACCEPTED and qualified.accepted_at is not None
    event = HandoffEvent.objects.get(handoff=qualified, action="accept")
    assert (event.actor, event.from_state, event.to_state, event.note) == (
        cast.rep,
        S.QUALIFIED,
        S.ACCEPTED,
        "Calling today",
    )
    body = response.json()
    assert body["state"] == "accepted"
    assert [e["action"] for e in body["events"]] == ["qualify", "accept"]
    assert body["actions"] == ["touch", "convert", "recycle"]


def test_the_rep_rejects_with_a_reason_code(api, cast, qualified):
    response = post(api("rep"), qualified, "reject", {"reason": "student", "note": "Thesis research"})

    assert response.status_code == 200
    qualified.refresh_from_db()
    assert (qualified.state, qualified.reason.code, qualified.note) == (S.REJECTED, "student", "Thesis research")
    assert HandoffEvent.objects.get(handoff=qualified, action="reject").reason.code == "student"
    assert response.json()["reason"] == {"code": "student", "label": "Student"}


def test_the_marketer_disputes_a_rejection(api, cast, rejected):
    response = post(api("marketer"), rejected, "dispute", {"reason": "meets_definition", "note": "Score 90"})

    assert response.status_code == 200
    rejected.refresh_from_db()
    assert (rejected.state, rejected.dispute_reason.code, rejected.dispute_note) == (
        S.DISPUTED,
        "meets_definition",
        "Score 90",
    )
    assert events(rejected)[-1] == ("dispute", S.REJECTED, S.DISPUTED)
    assert response.json()["dispute_reason"]["code"] == "meets_definition"


def test_the_manager_overturns_a_dispute_and_the_lead_goes_back_to_the_rep(api, cast, disputed):
    response = post(api("manager"), disputed, "resolve", {"decision": "overturn", "note": "It fits v1"})

    assert response.status_code == 200
    disputed.refresh_from_db()
    assert (disputed.state, disputed.reason, disputed.rejected_at) == (S.QUALIFIED, None, None)
    event = HandoffEvent.objects.get(handoff=disputed, action="resolve")
    assert (event.to_state, event.data, event.actor) == (S.QUALIFIED, {"decision": "overturn"}, cast.manager)
    assert response.json()["state"] == "qualified"


def test_the_rep_logs_a_touch_with_its_time(api, cast, time_machine):
    handed_over = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
    time_machine.move_to(handed_over, tick=False)
    accepted = machine.handoff_accept(
        handoff=machine.handoff_qualify(lead=make_lead(owner=cast.rep), actor=cast.actor("marketer")),
        actor=cast.actor("rep"),
    )
    called_at = handed_over + timedelta(minutes=30)
    time_machine.move_to(handed_over + timedelta(hours=2), tick=False)

    response = post(
        api("rep"),
        accepted,
        "touch",
        {"kind": "call", "outcome": "connected", "at": called_at.isoformat(), "note": "Hi"},
    )

    assert response.status_code == 200
    touch = Touch.objects.get(handoff=accepted)
    assert (touch.kind, touch.outcome, touch.at, touch.by) == ("call", "connected", called_at, cast.rep)
    assert touch.logged_at == handed_over + timedelta(hours=2)
    accepted.refresh_from_db()
    assert accepted.first_touch_at == accepted.first_connect_at == called_at
    assert accepted.state == S.ACCEPTED
    assert HandoffEvent.objects.get(handoff=accepted, action="touch").data == {
        "kind": "call",
        "outcome": "connected",
        "logged_at": "2026-03-09T12:00:00+00:00",
    }


def test_the_rep_converts_an_accepted_lead(api, cast, accepted):
    response = post(api("rep"), accepted, "convert", {"note": "Opportunity opened"})

    assert response.status_code == 200
    accepted.refresh_from_db()
    assert accepted.state == S.CONVERTED and accepted.converted_at is not None
    assert events(accepted)[-1] == ("convert", S.ACCEPTED, S.CONVERTED)
    assert response.json()["actions"] == []


def test_the_rep_recycles_an_accepted_lead_to_nurture(api, cast, accepted):
    response = post(api("rep"), accepted, "recycle", {"reason": "no_response"})

    assert response.status_code == 200
    accepted.refresh_from_db()
    assert (accepted.state, accepted.reason.code) == (S.RECYCLED, "no_response")
    assert events(accepted)[-1] == ("recycle", S.ACCEPTED, S.RECYCLED)


# ---------------------------------------------------------------------------------------------
# 400 / 403 / 409: nothing is written, and the body says why in one shape
# ---------------------------------------------------------------------------------------------
BAD_INPUT = [
    ("qualified", "rep", "accept", {"note": ["not", "text"]}, "note"),
    ("qualified", "rep", "reject", {"note": "no reason given"}, "reason"),
    ("qualified", "rep", "reject", {"reason": "not_a_code"}, "reason"),
    ("qualified", "rep", "reject", {"reason": "other"}, "note"),
    ("rejected", "marketer", "dispute", {"note": "no reason"}, "reason"),
    ("disputed", "manager", "resolve", {"decision": "maybe"}, "decision"),
    ("accepted", "rep", "touch", {"kind": "carrier_pigeon", "outcome": "attempt"}, "kind"),
    ("accepted", "rep", "touch", {"kind": "call", "outcome": "attempt", "at": "yesterday"}, "at"),
    ("accepted", "rep", "touch", {"kind": "call", "outcome": "attempt", "at": "2999-01-01T00:00:00Z"}, "at"),
    ("accepted", "rep", "convert", {"note": {"a": 1}}, "note"),
    ("accepted", "rep", "recycle", {"reason": ""}, "reason"),
]


@pytest.mark.parametrize(("state", "who", "action", "body", "field"), BAD_INPUT)
def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(request, api, state, who, action, body, field):
    handoff = request.getfixturevalue(state)
    before = events(handoff)

    response = post(api(who), handoff, action, body)

    assert response.status_code == 400, response.json()
    assert response.json()["field"] == field
    assert set(response.json()) == {"detail", "code", "field"}
    assert Handoff.objects.get(pk=handoff.pk).state == handoff.state
    assert events(handoff) == before
    assert not Touch.objects.exists()


def test_a_missing_reason_says_a_reason_is_required(api, qualified):
    response = post(api("rep"), qualified, "reject", {})

    assert response.status_code == 400
    assert response.json() == {
        "detail": "A reason is required to reject a lead.",
        "code": "required",
        "field": "reason",
    }


WRONG_ROLE = [
    ("qualified", "marketer", "accept", {}),
    ("qualified", "marketer", "reject", {"reason": "student"}),
    ("rejected", "rep", "dispute", {"reason": "meets_definition"}),
    ("disputed", "marketer", "resolve", {"decision": "uphold"}),
    ("accepted", "marketer", "touch", {"kind": "call", "outcome": "attempt"}),
    ("accepted", "marketer", "convert", {}),
    ("accepted", "admin", "recycle", {"reason": "no_response"}),
]


@pytest.mark.parametrize(("state", "who", "action", "body"), WRONG_ROLE)
def test_a_role_the_rules_do_not_allow_gets_a_403_and_changes_nothing(request, api, state, who, action, body):
    handoff = request.getfixturevalue(state)
    before = events(handoff)

    user = request.getfixturevalue(who) if who == "admin" else who

    response = post(api(user), handoff, action, body)

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden_role"
    assert str(handoff.lead) in response.json()["detail"]
    assert Handoff.objects.get(pk=handoff.pk).state == handoff.state
    assert events(handoff) == before


WRONG_STATE = [
    ("accepted", "rep", "accept", {}),
    ("accepted", "rep", "reject", {"reason": "student"}),
    ("qualified", "marketer", "dispute", {"reason": "meets_definition"}),
    ("rejected", "manager", "resolve", {"decision": "uphold"}),
    ("qualified", "rep", "touch", {"kind": "call", "outcome": "attempt"}),
    ("qualified", "rep", "convert", {}),
    ("qualified", "rep", "recycle", {"reason": "no_response"}),
]


@pytest.mark.parametrize(("state", "who", "action", "body"), WRONG_STATE)
def test_an_action_in_the_wrong_state_is_a_409_and_changes_nothing(request, api, state, who, action, body):
    handoff = request.getfixturevalue(state)
    before = events(handoff)

    response = post(api(who), handoff, action, body)

    assert response.status_code == 409
    assert response.json()["code"] == "wrong_state"
    assert Handoff.objects.get(pk=handoff.pk).state == handoff.state
    assert events(handoff) == before


def test_another_rep_cannot_act_on_a_handoff_they_cannot_see(api, qualified):
    response = post(api("other_rep"), qualified, "accept")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert Handoff.objects.get(pk=qualified.pk).state == S.QUALIFIED
    assert events(qualified) == [("qualify", "", S.QUALIFIED)]


# ---------------------------------------------------------------------------------------------
# Qualification: POST /api/leads/{id}/qualify/
# ---------------------------------------------------------------------------------------------
def test_a_marketer_qualifies_a_lead_and_gets_the_new_handoff(api, cast, lead):
    response = api("marketer").post(f"/api/leads/{lead.pk}/qualify/", {"note": "Asked for pricing"}, format="json")

    assert response.status_code == 201
    handoff = Handoff.objects.get(lead=lead)
    assert (handoff.state, handoff.owner, handoff.qualified_by, handoff.sequence) == (
        S.QUALIFIED,
        cast.rep,
        cast.marketer,
        1,
    )
    assert response.json()["id"] == handoff.pk
    assert response.json()["lead"]["id"] == lead.pk
    assert events(handoff) == [("qualify", "", S.QUALIFIED)]


def test_a_rep_may_not_qualify_a_lead(api, lead):
    response = api("rep").post(f"/api/leads/{lead.pk}/qualify/", {}, format="json")

    assert response.status_code == 403
    assert not Handoff.objects.filter(lead=lead).exists()


def test_a_lead_with_an_open_handoff_cannot_be_qualified_again(api, qualified):
    response = api("marketer").post(f"/api/leads/{qualified.lead_id}/qualify/", {}, format="json")

    assert response.status_code == 409
    assert Handoff.objects.filter(lead_id=qualified.lead_id).count() == 1
