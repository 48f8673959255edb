"""/api/feedback/: reps list and answer their requests; managers read their team's, marketers all; every answer
matches the served OpenAPI schema, and a refusal names the field (400), the role (403) or the state (409)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from handoff.models import FeedbackOutcome, FeedbackRequest, LeadFeedback
from tests.api.openapi import Schema

from .conftest import MONDAY, converted, rejected, request_of

pytestmark = pytest.mark.django_db
LIST, ONE, RATE = "/api/feedback/", "/api/feedback/{id}/", "/api/feedback/{id}/rate/"


@pytest.fixture
def schema(db) -> Schema:
    return Schema.served()


@pytest.fixture
def asked(cast, clock, ask):
    """Rita was asked about a converted lead and a rejected one; Rob (another team) about one of his."""
    mine = converted(cast, lead_source="Webinar")
    turned_down = rejected(cast, reason="student")
    robs = converted(cast, owner=cast.other_rep)
    ask()
    return request_of(mine), request_of(turned_down), request_of(robs)


def rate(client, schema, request, body):
    response = client.post(RATE.format(id=request.pk), body, format="json")
    return schema.check(response, "POST", RATE), response.status_code


@pytest.mark.parametrize(
    ("who", "sees"),
    [("rep", [0, 1]), ("other_rep", [2]), ("manager", [0, 1]), ("other_manager", [2]), ("marketer", [0, 1, 2]),
     ("outsider", [])],
)
def test_each_role_lists_the_requests_it_may_read(cast, api, asked, schema, who, sees):
    body = schema.check(api(who).get(LIST), "GET", LIST)
    assert sorted(row["id"] for row in body["results"]) == sorted(asked[i].pk for i in sees)


def test_the_list_filters_and_says_what_the_caller_may_do(cast, api, asked, schema):
    rows = schema.check(api("rep").get(LIST, {"point": "rejected"}), "GET", LIST)["results"]
    assert [row["id"] for row in rows] == [asked[1].pk]
    row = rows[0]
    assert (row["outcome"], row["reject_reason"]["code"], row["can_rate"], row["feedback"]) == (
        "pending", "student", True, None
    )
    manager_rows = schema.check(api("manager").get(LIST, {"outcome": "pending"}), "GET", LIST)["results"]
    assert {r["can_rate"] for r in manager_rows} == {False}
    assert api("rep").get(LIST, {"outcome": "sometime"}).status_code == 400


def test_the_rep_rates_then_changes_and_the_history_shows_both(cast, api, asked, schema, clock):
    body, status = rate(api("rep"), schema, asked[0],
                        {"rating": 2, "reasons": ["no_budget", "pricing_objection"], "note": "Small team"})
    assert status == 200
    assert body["outcome"] == "answered" and body["feedback"]["rating"] == 2
    assert {r["code"]: r["is_market_signal"] for r in body["feedback"]["reasons"]} == {
        "no_budget": False, "pricing_objection": True
    }
    assert body["feedback"]["change_until"].startswith((MONDAY + timedelta(days=14)).date().isoformat())
    clock(MONDAY + timedelta(days=2))
    body, status = rate(api("rep"), schema, asked[0], {"rating": 4})
    assert status == 200
    assert [(h["revision"], h["rating"], h["reasons"], h["via"]) for h in body["history"]] == [
        (1, 2, ["no_budget", "pricing_objection"], "api"), (2, 4, [], "api")
    ]
    detail = schema.check(api("manager").get(ONE.format(id=asked[0].pk)), "GET", ONE)
    assert detail["feedback"]["revision"] == 2 and len(detail["history"]) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "rating"),
        ({"rating": 0}, "rating"),
        ({"rating": 6}, "rating"),
        ({"rating": "4"}, "rating"),
        ({"rating": 4.5}, "rating"),
        ({"rating": 4, "reasons": "no_budget"}, "reasons"),
        ({"rating": 4, "reasons": ["no_such_reason"]}, "reasons"),
        ({"rating": 4, "reasons": [7]}, "reasons.0"),
        ({"rating": 4, "note": "x" * 2001}, "note"),
        ({"rating": 4, "reasons": ["other"]}, "note"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(cast, api, asked, schema, body, field):
    error, status = rate(api("rep"), schema, asked[0], body)
    assert status == 400 and error["field"] == field
    assert not LeadFeedback.objects.exists()


def test_an_inactive_reason_is_a_400(cast, api, asked, schema):
    from handoff.models import ReasonCode

    ReasonCode.objects.filter(kind="feedback", code="bad_timing").update(is_active=False)
    error, status = rate(api("rep"), schema, asked[0], {"rating": 3, "reasons": ["bad_timing"]})
    assert (status, error["field"]) == (400, "reasons")


def test_a_rejected_lead_takes_only_market_signals(cast, api, asked, schema):
    error, status = rate(api("rep"), schema, asked[1], {"rating": 1, "reasons": ["great_fit"]})
    assert (status, error["field"]) == (400, "reasons")
    assert rate(api("rep"), schema, asked[1], {"rating": 1, "reasons": ["product_gap"]})[1] == 200


@pytest.mark.parametrize("who", ["marketer", "manager"])
def test_marketing_and_managers_read_but_do_not_rate(cast, api, asked, schema, who):
    error, status = rate(api(who), schema, asked[0], {"rating": 5})
    assert status == 403 and error["code"] == "forbidden_role"
    assert not LeadFeedback.objects.exists()


def test_another_reps_request_does_not_exist_for_a_rep(cast, api, asked, schema):
    error, status = rate(api("rep"), schema, asked[2], {"rating": 5})
    assert status == 404
    assert schema.check(api("rep").get(ONE.format(id=asked[2].pk)), "GET", ONE)["code"] == "not_found"


def test_an_expired_request_and_a_closed_change_window_are_409(cast, api, asked, schema, clock):
    FeedbackRequest.objects.filter(pk=asked[1].pk).update(outcome=FeedbackOutcome.EXPIRED)
    error, status = rate(api("rep"), schema, asked[1], {"rating": 2})
    assert (status, error["code"]) == (409, "wrong_state")
    rate(api("rep"), schema, asked[0], {"rating": 2})
    clock(MONDAY + timedelta(days=15))
    error, status = rate(api("rep"), schema, asked[0], {"rating": 5})
    assert (status, error["code"]) == (409, "change_window_over")
    assert LeadFeedback.objects.get().rating == 2


def test_without_credentials_nothing_is_read(asked, schema):
    assert schema.check(APIClient().get(LIST), "GET", LIST)["code"] == "not_authenticated"


def test_feedback_reasons_are_listed_with_the_market_signals_marked(cast, api, asked):
    rows = api("rep").get("/api/reason-codes/", {"kind": "feedback"}).json()
    signals = {row["code"] for row in rows if row["is_market_signal"]}
    assert signals == {"competitor_mentioned", "pricing_objection", "product_gap"}
    assert {"great_fit", "wrong_persona", "no_budget", "bad_timing", "bad_contact_data", "duplicate",
            "student_or_competitor", "low_intent", "other"} <= {row["code"] for row in rows}
