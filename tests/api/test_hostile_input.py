"""Input built to break the API gets a 4xx in the API's one error body, names what is wrong, and writes nothing."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from handoff.models import Handoff, HandoffEvent, Touch
from handoff.services import handoffs as machine
from tests.factories import make_lead

DEEP_JSON = "[" * 5000 + "]" * 5000  # ~10 KB that Python's JSON parser cannot descend


def error(response) -> dict:
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    body = response.json()
    assert set(body) <= {"detail", "code", "field"} and body["detail"] and body["code"]
    return body


@pytest.mark.parametrize("name", ["qualified_after", "qualified_before", "handed_after", "handed_before", "due_before"])
@pytest.mark.parametrize("offset", ["+16:00", "-23:59", "+14:01", "-12:30"])
def test_a_date_filter_with_an_offset_no_place_uses_is_a_400_naming_the_filter(api, cast, qualified, name, offset):
    response = api("manager").get("/api/handoffs/", {name: f"2026-01-01T00:00:00{offset}"})
    assert response.status_code == 400
    body = error(response)
    assert body["field"] == name and offset in body["detail"]


def test_a_date_filter_reads_any_real_offset_as_the_same_instant(api, cast, time_machine):
    time_machine.move_to(datetime(2026, 3, 9, 10, 0, tzinfo=UTC), tick=False)
    handoff = machine.handoff_qualify(lead=make_lead(owner=cast.rep), actor=cast.actor("marketer"))
    manager = api("manager")
    # 10:00 UTC is 00:00 on Kiritimati (+14:00) and 22:00 the day before on Baker Island (-12:00).
    for same_instant in ("2026-03-10T00:00:00+14:00", "2026-03-08T22:00:00-12:00", "2026-03-09T10:00:00Z"):
        found = manager.get("/api/handoffs/", {"qualified_after": same_instant}).json()["results"]
        assert [h["id"] for h in found] == [handoff.pk], same_instant
        assert manager.get("/api/handoffs/", {"qualified_before": same_instant}).json()["results"] == []


@pytest.mark.parametrize("url", ["/api/handoffs/{id}/accept/", "/api/leads/{lead}/qualify/", "/api/auth/token/"])
def test_json_nested_too_deep_for_the_parser_is_a_400_and_writes_nothing(api, cast, qualified, url):
    events = HandoffEvent.objects.count()
    client = APIClient() if "token" in url else api("rep" if "accept" in url else "marketer")
    response = client.post(url.format(id=qualified.pk, lead=make_lead().pk), DEEP_JSON, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in error(response)["detail"]
    assert HandoffEvent.objects.count() == events


@pytest.mark.parametrize("url", ["/api/handoffs/1.5/", "/api/handoffs/abc/", "/api/no-such-thing/", "/api/leads/1/x/"])
def test_a_url_no_route_or_object_matches_is_a_json_404(api, cast, url):
    response = api("rep").get(url)
    assert response.status_code == 404
    assert error(response)["code"] == "not_found"


@pytest.mark.parametrize("bad_id", ["abc", "null,null", "1.5", "-1"])
def test_every_operation_with_an_id_in_its_path_answers_a_malformed_one_with_a_json_404(api, cast, admin, bad_id):
    # Every path of the schema with a parameter, every method it has, as the caller who sees the most (an admin)
    # and as a manager: never a 500, whatever the route's lookup does with a value that is not an id.
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    checked = 0
    for path, operations in schema["paths"].items():
        if "{" not in path:
            continue
        url = re.sub(r"\{[^}]+\}", bad_id, path)
        for method in ("get", "post", "patch", "put", "delete"):
            if method not in operations:
                continue
            for client in (api(admin), api("manager")):
                response = getattr(client, method)(url, {}, format="json")
                assert response.status_code == 404, (method, url, response.status_code)
                assert error(response)["code"] == "not_found", (method, url)
                checked += 1
    assert checked >= 20


def test_a_stale_cursor_is_a_json_404(api, cast):
    response = api("rep").get("/api/handoffs/", {"cursor": "not-a-cursor"})
    assert response.status_code == 404 and error(response)["code"] == "not_found"


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=10_000)
def test_a_body_over_the_size_limit_is_a_json_413_and_writes_nothing(api, cast, qualified):
    response = api("rep").post(
        f"/api/handoffs/{qualified.pk}/accept/", json.dumps({"note": "x" * 20_000}), content_type="application/json"
    )
    assert response.status_code == 413 and error(response)["code"] == "too_large"
    qualified.refresh_from_db()
    assert qualified.state == "qualified"


def test_a_form_body_with_more_fields_than_allowed_is_a_json_400(api, cast, qualified):
    body = "&".join(f"field{i}=1" for i in range(1_500))
    response = api("rep").post(
        f"/api/handoffs/{qualified.pk}/accept/", body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400 and error(response)["code"] == "too_many_fields"
    qualified.refresh_from_db()
    assert qualified.state == "qualified"


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("accept", {"note": 12345}, "note"),
        ("accept", {"note": True}, "note"),
        ("accept", {"note": ["a"]}, "note"),
        ("reject", {"reason": 7}, "reason"),
        ("touch", {"kind": "call", "outcome": "attempt", "at": 1767225600}, "at"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_not_coerced(api, cast, accepted, qualified, action, body, field):
    target = accepted if action == "touch" else qualified
    response = api("rep").post(f"/api/handoffs/{target.pk}/{action}/", body, format="json")
    assert response.status_code == 400
    assert error(response)["field"] == field
    assert not Handoff.objects.filter(note="12345").exists()


def test_bulk_reject_ids_must_be_json_integers(api, cast, qualified):
    for ids in (["1"], [1.0], [True]):
        response = api("rep").post("/api/handoffs/bulk-reject/", {"ids": ids, "reason": "wrong_region"}, format="json")
        assert response.status_code == 400 and error(response)["field"].startswith("ids"), ids
    qualified.refresh_from_db()
    assert qualified.state == "qualified"


@pytest.mark.parametrize("name", ["owner", "team"])
def test_an_id_that_does_not_exist_answers_as_one_the_user_cannot_see(api, cast, name):
    other = cast.other_rep.pk if name == "owner" else cast.other_team.pk
    machine.handoff_qualify(lead=make_lead(owner=cast.other_rep), actor=cast.actor("marketer"))
    rep = api("rep")
    unknown = rep.get("/api/handoffs/", {name: 987_654})
    unseen = rep.get("/api/handoffs/", {name: other})
    assert (
        (unknown.status_code, unknown.json())
        == (unseen.status_code, unseen.json())
        == (
            200,
            {"next": None, "previous": None, "results": []},
        )
    )
    if name == "owner":
        assert rep.get("/api/leads/", {"owner": 987_654}).json() == rep.get("/api/leads/", {"owner": other}).json()


def test_the_qualification_event_has_no_from_state(api, cast, qualified):
    (event,) = api("rep").get(f"/api/handoffs/{qualified.pk}/").json()["events"]
    assert (event["action"], event["from_state"], event["to_state"]) == ("qualify", None, "qualified")


# ---------------------------------------------------------------------------------------------
# Found by the schemathesis run of .ci/fuzz (each test names what it answered before)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["0.5", "1.0", "1e0", "1_0", " 1", "one"])
def test_a_definition_version_that_is_not_a_whole_number_is_a_400(api, cast, version):
    # Was 200 with an empty list: `filterset_fields` made `version` a decimal filter.
    response = api("rep").get("/api/definitions/", {"version": version})
    assert response.status_code == 400 and error(response)["field"] == "version"


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/api/leads/", "qualified"),
        ("/api/leads/", "is_converted"),
        ("/api/leads/", "is_deleted"),
        ("/api/handoffs/", "breached"),
        ("/api/definitions/", "is_active"),
    ],
)
@pytest.mark.parametrize("value", ["null", "yes", "2", "%L\x9c"])
def test_a_boolean_filter_takes_true_or_false_and_refuses_the_rest(api, cast, qualified, url, name, value):
    # Was 200 with the filter silently left out (`?qualified=null` listed every lead); "%" in the value was a 500.
    response = api("marketer").get(url, {name: value})
    assert response.status_code == 400
    body = error(response)
    assert body["field"] == name and "true or false" in body["detail"]
    for accepted in ("true", "false", "True", "1", "0"):
        assert api("marketer").get(url, {name: accepted}).status_code == 200


@pytest.mark.parametrize("name", ["owner", "team", "lead", "sequence", "definition_version"])
@pytest.mark.parametrize("value", ["1.0", "1_0", "+-1", "١"])
def test_an_integer_filter_takes_digits_only(api, cast, name, value):
    # Django's IntegerField reads "1.0" as 1 and "1_0" as 10 (Python's int()).
    response = api("marketer").get("/api/handoffs/", {name: value})
    assert response.status_code == 400 and error(response)["field"] == name


def test_every_query_parameter_the_schema_lets_be_empty_is_read_as_left_out(api, cast, qualified, admin):
    # The schema marks optional query parameters `allowEmptyValue` (handoff/api/schema.py): each operation, as a
    # caller it answers 200, answers `?name=` as it answers without the parameter; a repeatable one refuses it.
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    checked = 0
    for path, operations in schema["paths"].items():
        operation = operations.get("get")
        if operation is None or "{" in path:
            continue
        callers = [api(who) for who in ("marketer", "manager", "rep")] + [api(admin)]
        client = next((c for c in callers if c.get(path).status_code == 200), None)
        assert client is not None, f"GET {path}: no caller gets a 200"
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "query":
                continue
            status = client.get(path, {parameter["name"]: ""}).status_code
            expected = 400 if parameter["schema"].get("type") == "array" else 200
            assert parameter.get("allowEmptyValue", False) == (expected == 200), (path, parameter["name"])
            assert status == expected, (path, parameter["name"], status)
            checked += 1
    assert checked > 40


def test_an_empty_filter_value_is_the_filter_left_out_and_the_schema_says_so(api, cast, qualified):
    # `?qualified_before=` (no date-time) was accepted though the schema allowed only a date-time there.
    manager = api("manager")
    everything = manager.get("/api/handoffs/").json()["results"]
    for name in ("qualified_before", "owner", "breached", "sequence", "due_before", "page_size"):
        assert manager.get("/api/handoffs/", {name: ""}).json()["results"] == everything, name
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    for path in ("/api/handoffs/", "/api/leads/", "/api/definitions/", "/api/sync-runs/", "/api/reason-codes/"):
        single = [p for p in schema["paths"][path]["get"]["parameters"] if p["schema"]["type"] != "array"]
        assert single and all(p.get("allowEmptyValue") is True for p in single if p["name"] != "cursor"), path
    # A repeatable filter has no empty value: `?state=` names no state, and is refused.
    (state,) = [p for p in schema["paths"]["/api/handoffs/"]["get"]["parameters"] if p["name"] == "state"]
    assert "allowEmptyValue" not in state
    assert manager.get("/api/handoffs/", {"state": ""}).status_code == 400


def test_each_filter_is_typed_in_the_schema_as_it_is_read(db):
    # drf-spectacular had guessed "number" for the ids and "string" for `breached` and `due_before`.
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    types = {p["name"]: p["schema"] for p in schema["paths"]["/api/handoffs/"]["get"]["parameters"]}
    for name in ("owner", "team", "lead", "sequence", "definition_version", "page_size"):
        assert types[name]["type"] == "integer", name
    assert types["breached"] == {"type": "boolean"}
    for name in ("due_before", "qualified_after", "qualified_before", "handed_after", "handed_before"):
        assert types[name] == {"type": "string", "format": "date-time"}, name


@pytest.mark.parametrize("content_type", ["multipart", "application/x-www-form-urlencoded"])
def test_an_empty_touch_time_in_a_form_body_is_refused_not_read_as_now(api, cast, accepted, content_type):
    # Was 200: DRF reads an empty form value of a nullable field as null, and `at: null` means "now".
    body = {"kind": "call", "outcome": "attempt", "at": ""}
    client = api("rep")
    url = f"/api/handoffs/{accepted.pk}/touch/"
    if content_type == "multipart":
        response = client.post(url, body, format="multipart")
    else:
        response = client.post(url, "kind=call&outcome=attempt&at=", content_type=content_type)
    assert response.status_code == 400 and error(response)["field"] == "at"
    assert not Touch.objects.exists()
    # Left out, it is "now", as documented.
    assert client.post(url, {"kind": "call", "outcome": "attempt"}, format="multipart").status_code == 200


@pytest.mark.parametrize("page_size", ["abc", "0", "-5", "1.5", "²"])
def test_a_page_size_that_is_not_a_whole_number_from_1_is_a_400(api, cast, qualified, page_size):
    # Was 200 with the default page size, as if the parameter had not been given.
    response = api("rep").get("/api/handoffs/", {"page_size": page_size})
    assert response.status_code == 400 and error(response)["field"] == "page_size"


def test_a_page_size_over_the_maximum_gets_the_maximum_and_the_schema_states_both(api, cast, qualified):
    assert api("rep").get("/api/handoffs/", {"page_size": "100000"}).status_code == 200
    assert api("rep").get("/api/handoffs/", {"page_size": ""}).status_code == 200
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    (page_size,) = [p for p in schema["paths"]["/api/handoffs/"]["get"]["parameters"] if p["name"] == "page_size"]
    assert page_size["schema"] == {"type": "integer", "minimum": 1} and page_size["allowEmptyValue"] is True
    assert "500" in page_size["description"]
    assert "400" in schema["paths"]["/api/sync-runs/"]["get"]["responses"]


@pytest.mark.parametrize("url", ["/api/handoffs/", "/api/leads/", "/api/sync-runs/", "/api/feedback/"])
@pytest.mark.parametrize("position", ["garbage", "2026-13-45 10:00:00+00:00", "1e400"])
def test_a_hand_made_cursor_with_a_position_of_the_wrong_type_is_a_stale_cursor(api, cast, qualified, url, position):
    # Was a 500: DRF decodes the cursor but hands its position to the query unchecked.
    cursor = base64.b64encode(f"p={position}".encode()).decode()
    response = api("manager").get(url, {"cursor": cursor})
    assert response.status_code == 404 and error(response)["detail"] == "Invalid cursor"


def test_every_operation_documents_the_web_servers_414(db):
    # gunicorn answers a request line over 4094 bytes with its own 414 page, before the app: the fuzzer's long query
    # strings got a status the schema did not state.
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation["responses"]["414"]["content"] == {"text/html": {"schema": {"type": "string"}}}, (
                method,
                path,
            )


def test_bulk_reject_ids_may_not_be_empty_and_the_schema_says_so(api, cast, qualified):
    # The schema admitted `"ids": []` (no minItems) and the API answered 400 "This list may not be empty".
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    assert schema["components"]["schemas"]["BulkRejectRequest"]["properties"]["ids"]["minItems"] == 1
    response = api("rep").post("/api/handoffs/bulk-reject/", {"ids": [], "reason": "student"}, format="json")
    assert response.status_code == 400 and error(response)["field"] == "ids"
