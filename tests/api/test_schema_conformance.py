"""Every endpoint's real responses, successes and errors, match the served OpenAPI schema exactly.

One walk through a working day drives every operation of the schema as each role would, plus the errors a
careless or hostile client meets (401, 400, 403, 404, 409, 413, 415); each response's status must be documented for
its operation and its body must validate against the schema, with no field the schema does not state.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from handoff.models import Handoff, LeadDefinition, ReasonCode, RoutingRules, SyncRun
from handoff.services import handoffs as machine
from handoff.services.feedback import feedback_requests_create
from handoff.services.reports import report_facts_refresh
from tests.factories import make_lead

from .openapi import Schema


@pytest.fixture
def schema(db) -> Schema:
    return Schema.served()


@pytest.fixture
def sync_run(db) -> SyncRun:
    now = timezone.now()
    return SyncRun.objects.create(
        kind=SyncRun.Kind.INCREMENTAL, started_at=now, finished_at=now, outcome=SyncRun.Outcome.SUCCEEDED, fetched=3
    )


def test_every_operation_answers_as_the_schema_says(api, cast, schema, sync_run, time_machine):
    time_machine.move_to(datetime(2026, 3, 9, 10, 0, tzinfo=UTC), tick=False)
    marketer, rep, manager, anonymous = api("marketer"), api("rep"), api("manager"), APIClient()

    def go(client, method, template, path=None, body=None, **kwargs):
        url = path or template
        if method == "GET":
            response = client.get(url, body)
        else:
            response = client.post(url, body, **(kwargs or {"format": "json"}))
        return schema.check(response, method, template), response.status_code

    # Leads and qualification.
    lead = make_lead(owner=cast.rep, company="Acme", score=70)
    lead_path = f"/api/leads/{lead.pk}/"
    go(marketer, "GET", "/api/leads/", body={"search": "Acme"})
    go(marketer, "GET", "/api/leads/{id}/", lead_path)
    body, status = go(marketer, "POST", "/api/leads/{id}/qualify/", f"{lead_path}qualify/", {"note": "A demo"})
    assert status == 201
    handoff = body["id"]
    assert go(marketer, "POST", "/api/leads/{id}/qualify/", f"{lead_path}qualify/", {})[1] == 409
    assert go(rep, "POST", "/api/leads/{id}/qualify/", f"{lead_path}qualify/", {})[1] == 403

    # Handoffs: reading, filtering, every action, and their refusals.
    h = f"/api/handoffs/{handoff}/"
    listed, _ = go(rep, "GET", "/api/handoffs/", body={"state": "qualified", "breached": "false"})
    assert [row["id"] for row in listed["results"]] == [handoff]
    detail, _ = go(rep, "GET", "/api/handoffs/{id}/", h)
    assert detail["events"][0]["from_state"] is None
    assert go(rep, "GET", "/api/handoffs/", body={"qualified_after": "2026-01-01T00:00:00+16:00"})[1] == 400
    assert go(rep, "GET", "/api/handoffs/", body={"cursor": "stale"})[1] == 404
    assert go(rep, "GET", "/api/handoffs/{id}/", "/api/handoffs/999999/")[1] == 404
    assert go(rep, "POST", "/api/handoffs/{id}/touch/", f"{h}touch/", {"kind": "call", "outcome": "attempt"})[1] == 409
    assert go(marketer, "POST", "/api/handoffs/{id}/accept/", f"{h}accept/", {})[1] == 403
    assert go(rep, "POST", "/api/handoffs/{id}/accept/", f"{h}accept/", {"note": 1})[1] == 400
    assert go(rep, "POST", "/api/handoffs/{id}/accept/", f"{h}accept/", {"note": "Will call"})[1] == 200
    assert go(manager, "POST", "/api/handoffs/{id}/pause/", f"{h}pause/", {})[1] == 400  # no reason
    assert go(manager, "POST", "/api/handoffs/{id}/resume/", f"{h}resume/", {"note": "Back"})[1] == 409
    assert go(marketer, "POST", "/api/handoffs/{id}/pause/", f"{h}pause/", {"note": "Away"})[1] == 403
    assert go(manager, "POST", "/api/handoffs/{id}/pause/", f"{h}pause/", {"note": "Customer away"})[1] == 200
    assert go(manager, "POST", "/api/handoffs/{id}/resume/", f"{h}resume/", {"note": "Customer back"})[1] == 200
    touch = {"kind": "call", "outcome": "connected", "at": "2026-03-09T09:30:00Z"}
    assert go(rep, "POST", "/api/handoffs/{id}/touch/", f"{h}touch/", touch)[1] == 400  # before the handover
    touch["at"] = "2026-03-09T10:00:00Z"
    assert go(rep, "POST", "/api/handoffs/{id}/touch/", f"{h}touch/", touch)[1] == 200
    assert go(rep, "POST", "/api/handoffs/{id}/convert/", f"{h}convert/", {})[1] == 200
    assert go(rep, "POST", "/api/handoffs/{id}/recycle/", f"{h}recycle/", {"reason": "timing"})[1] == 409

    second = machine.handoff_qualify(lead=make_lead(owner=cast.rep), actor=cast.actor("marketer"))
    h2 = f"/api/handoffs/{second.pk}/"
    assert go(rep, "POST", "/api/handoffs/{id}/reject/", f"{h2}reject/", {})[1] == 400
    assert go(rep, "POST", "/api/handoffs/{id}/reject/", f"{h2}reject/", {"reason": "student"})[1] == 200
    dispute = {"reason": "meets_definition", "note": "They have budget"}
    assert go(marketer, "POST", "/api/handoffs/{id}/dispute/", f"{h2}dispute/", dispute)[1] == 200
    assert go(manager, "POST", "/api/handoffs/{id}/resolve/", f"{h2}resolve/", {"decision": "maybe"})[1] == 400
    assert go(manager, "POST", "/api/handoffs/{id}/resolve/", f"{h2}resolve/", {"decision": "overturn"})[1] == 200
    assert go(rep, "POST", "/api/handoffs/{id}/accept/", f"{h2}accept/", {})[1] == 200
    assert go(rep, "POST", "/api/handoffs/{id}/recycle/", f"{h2}recycle/", {"reason": "not_ready"})[1] == 200

    third, fourth = (
        machine.handoff_qualify(lead=make_lead(owner=cast.rep), actor=cast.actor("marketer")) for _ in range(2)
    )
    bulk = {"ids": [third.pk, fourth.pk], "reason": "duplicate"}
    assert go(marketer, "POST", "/api/handoffs/bulk-reject/", body=bulk)[1] == 403
    assert go(rep, "POST", "/api/handoffs/bulk-reject/", body={**bulk, "ids": ["x"]})[1] == 400
    machine.handoff_accept(handoff=fourth, actor=cast.actor("rep"))
    assert go(rep, "POST", "/api/handoffs/bulk-reject/", body=bulk)[1] == 409
    assert go(rep, "POST", "/api/handoffs/bulk-reject/", body={**bulk, "ids": [third.pk]})[1] == 200

    # Sales feedback: the job asks the rep about the leads they converted and rejected; marketing and the manager
    # read it, only the rep rates, within the change window.
    feedback_requests_create()
    asked, _ = go(rep, "GET", "/api/feedback/", body={"outcome": "pending"})
    assert {row["point"] for row in asked["results"]} == {"converted", "rejected"}
    converted = next(row for row in asked["results"] if row["handoff"] == handoff)
    f = f"/api/feedback/{converted['id']}/"
    assert go(rep, "GET", "/api/feedback/", body={"outcome": "maybe"})[1] == 400
    assert go(manager, "GET", "/api/feedback/{id}/", f)[0]["feedback"] is None
    assert go(rep, "GET", "/api/feedback/{id}/", "/api/feedback/999999/")[1] == 404
    assert go(marketer, "POST", "/api/feedback/{id}/rate/", f"{f}rate/", {"rating": 4})[1] == 403
    assert go(rep, "POST", "/api/feedback/{id}/rate/", f"{f}rate/", {"rating": 6})[1] == 400
    rating = {"rating": 4, "reasons": ["great_fit", "competitor_mentioned"], "note": "Signed within a week"}
    rated, status = go(rep, "POST", "/api/feedback/{id}/rate/", f"{f}rate/", rating)
    assert status == 200 and rated["feedback"]["rating"] == 4 and [h["revision"] for h in rated["history"]] == [1]
    go(marketer, "GET", "/api/feedback/", body={"point": "converted"})
    time_machine.move_to(datetime(2026, 3, 30, 10, 0, tzinfo=UTC), tick=False)  # past the 14-day change window
    assert go(rep, "POST", "/api/feedback/{id}/rate/", f"{f}rate/", {"rating": 5})[1] == 409

    # Bodies the parser refuses, too big, or of a type the endpoint does not read.
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1_000):
        big = json.dumps({"note": "x" * 2_000})
        assert (
            go(rep, "POST", "/api/handoffs/{id}/accept/", f"{h}accept/", big, content_type="application/json")[1] == 413
        )
    deep = "[" * 5_000 + "]" * 5_000
    assert go(rep, "POST", "/api/handoffs/{id}/accept/", f"{h}accept/", deep, content_type="application/json")[1] == 400
    response = rep.post(f"{h}accept/", "<note/>", content_type="application/xml")
    assert schema.check(response, "POST", "/api/handoffs/{id}/accept/") and response.status_code == 415

    # Reference data.
    reasons, _ = go(rep, "GET", "/api/reason-codes/", body={"kind": "reject"})
    assert {r["code"] for r in reasons} >= {"student", "duplicate"}
    assert go(rep, "GET", "/api/reason-codes/", body={"kind": "nonsense"})[1] == 400
    reason = ReasonCode.objects.filter(kind="reject").first()
    go(rep, "GET", "/api/reason-codes/{id}/", f"/api/reason-codes/{reason.pk}/")
    assert go(rep, "GET", "/api/reason-codes/{id}/", "/api/reason-codes/999999/")[1] == 404
    go(rep, "GET", "/api/definitions/")
    assert go(rep, "GET", "/api/definitions/", body={"version": "one"})[1] == 400
    definition = LeadDefinition.objects.first()
    go(rep, "GET", "/api/definitions/{id}/", f"/api/definitions/{definition.pk}/")
    assert go(rep, "GET", "/api/definitions/{id}/", "/api/definitions/999999/")[1] == 404

    # Sync runs: managers only.
    runs, _ = go(manager, "GET", "/api/sync-runs/")
    assert [run["id"] for run in runs["results"]] == [sync_run.pk]
    assert go(rep, "GET", "/api/sync-runs/")[1] == 403
    assert go(manager, "GET", "/api/sync-runs/", body={"kind": "nonsense"})[1] == 400
    go(manager, "GET", "/api/sync-runs/{id}/", f"/api/sync-runs/{sync_run.pk}/")
    assert go(rep, "GET", "/api/sync-runs/{id}/", f"/api/sync-runs/{sync_run.pk}/")[1] == 403
    assert go(manager, "GET", "/api/sync-runs/{id}/", "/api/sync-runs/999999/")[1] == 404

    # The manager reports, as JSON and as CSV (from the summary the report job keeps: refreshed here); a bad filter
    # names its field; marketing sees no rep's own figures; a rep reads only their own (My SLA).
    report_facts_refresh()
    report, _ = go(manager, "GET", "/api/reports/", body={"group_by": "week"})
    assert report["total"]["handoffs"] >= 1 and report["weeks"]
    table, status = go(manager, "GET", "/api/reports/", body={"format": "csv", "table": "reasons"})
    assert status == 200 and table.startswith("key,label,count,share_pct,cumulative_pct")
    assert go(manager, "GET", "/api/reports/", body={"team": "x"})[0]["field"] == "team"
    assert go(manager, "GET", "/api/reports/", body={"format": "xml"})[0]["field"] == "format"
    assert go(manager, "GET", "/api/reports/", body={"format": "csv", "end": "2026-02-30"})[0]["field"] == "end"
    assert go(marketer, "GET", "/api/reports/", body={"group_by": "rep"})[1] == 403
    assert go(rep, "GET", "/api/reports/")[1] == 403
    stands, _ = go(marketer, "GET", "/api/reports/relationship/")
    assert stands["level"] in ("undefined", "defined", "aligned", "integrated")
    assert go(manager, "GET", "/api/reports/relationship/", body={"format": "csv"})[1] == 200
    assert go(manager, "GET", "/api/reports/relationship/", body={"team": 999999})[1] == 403
    assert go(manager, "GET", "/api/reports/relationship/", body={"team": "one"})[0]["field"] == "team"
    mine, _ = go(rep, "GET", "/api/reports/my-sla/")
    assert mine["team"] == "EMEA"
    assert go(rep, "GET", "/api/reports/my-sla/", body={"format": "csv"})[1] == 200
    assert go(manager, "GET", "/api/reports/my-sla/")[1] == 403

    # Routing: the rules in force, a rep's share changed by their manager, the rep away (so a lead waits in the
    # queue), then back.
    rules = RoutingRules.objects.create(version=1, name="All to EMEA", territories=[], catch_all_team=cast.team,
                                        is_active=True)
    go(rep, "GET", "/api/routing/rules/")
    go(rep, "GET", "/api/routing/rules/{id}/", f"/api/routing/rules/{rules.pk}/")
    assert go(rep, "GET", "/api/routing/rules/{id}/", "/api/routing/rules/999999/")[1] == 404
    assert [row["username"] for row in go(manager, "GET", "/api/routing/reps/")[0]] == ["rita.rep"]
    r = f"/api/routing/reps/{cast.rep.pk}/"
    go(manager, "GET", "/api/routing/reps/{id}/", r)
    assert go(manager, "GET", "/api/routing/reps/{id}/", "/api/routing/reps/999999/")[1] == 404
    patched = schema.check(manager.patch(r, {"weight": 2, "open_cap": None}, format="json"), "PATCH",
                           "/api/routing/reps/{id}/")
    assert patched["weight"] == 2
    assert schema.check(manager.patch(r, {"weight": 0}, format="json"), "PATCH", "/api/routing/reps/{id}/")[
        "field"] == "weight"
    assert rep.patch(r, {"weight": 5}, format="json").status_code == 403
    away, status = go(rep, "POST", "/api/routing/away/", body={"starts_on": "2026-03-30", "ends_on": "2026-03-31"})
    assert status == 201
    assert go(rep, "POST", "/api/routing/away/", body={"starts_on": "2026-03-09", "ends_on": "2026-03-01"})[1] == 400
    assert go(marketer, "POST", "/api/routing/away/", body={"rep": cast.rep.pk, "starts_on": "2026-03-09",
                                                           "ends_on": "2026-03-09"})[1] == 403
    go(manager, "GET", "/api/routing/away/")
    go(rep, "GET", "/api/routing/away/{id}/", f"/api/routing/away/{away['id']}/")
    assert go(rep, "GET", "/api/routing/away/{id}/", "/api/routing/away/999999/")[1] == 404
    machine.handoff_qualify(lead=make_lead(owner=None), actor=cast.actor("marketer"))
    assert len(go(manager, "GET", "/api/routing/queue/")[0]) == 1
    assert go(rep, "GET", "/api/routing/queue/")[1] == 403
    gone = rep.delete(f"/api/routing/away/{away['id']}/")
    assert gone.status_code == 204 and schema.check(gone, "DELETE", "/api/routing/away/{id}/") is None

    # Tokens, and every operation refused without valid credentials.
    cast.rep.set_password("s3cret-enough")
    cast.rep.save()
    login = {"username": "rita.rep", "password": "s3cret-enough"}
    token, status = go(anonymous, "POST", "/api/auth/token/", body=login)
    assert status == 200 and token["token"]
    assert go(anonymous, "POST", "/api/auth/token/", body={"username": "rita.rep"})[1] == 400
    invalid = APIClient()
    invalid.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    for method, path in sorted(schema.operations()):
        concrete = path.replace("{id}", str(handoff if "handoffs" in path else lead.pk))
        response = (invalid if path == "/api/auth/token/" else anonymous).generic(
            method, concrete, "{}", content_type="application/json"
        )
        assert response.status_code == 401, (method, path)
        schema.check(response, method, path)

    exercised = {(method, path) for method, path, status in schema.seen if status[0] == "2"}
    assert exercised == schema.operations(), f"never answered 2xx: {sorted(schema.operations() - exercised)}"
    assert Handoff.objects.filter(state="converted").count() == 1
