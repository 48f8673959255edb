"""Who may do what through the API: every endpoint × every kind of caller, with the status each gets.

The callers: a marketer, the lead's rep, a rep of another team, the rep's manager, another team's manager, an admin
(staff, superuser, no role in the rules of engagement), a person with no role, nobody (no credentials), and a rep
whose account was deactivated after their token was issued. Each authenticates with a real token, as a client does.

The object is always the rep's (team EMEA): a lead, or a handoff in the state the action applies to. Refusals come
as 401 (no valid credentials), 404 (an object the caller cannot see does not exist for them), 403 (a role the rules
do not allow), 409 (the caller's role may do this, only not in this state), 405 (no one writes this through the API).
A refusal writes nothing: no INSERT, UPDATE or DELETE reaches the database; nor does any read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from handoff.models import AwayPeriod, FeedbackRequest, LeadDefinition, ReasonCode, Role, RoutingRules, SyncRun
from handoff.services import handoffs as machine
from handoff.services.feedback import feedback_requests_create
from tests.factories import make_lead, make_user

pytestmark = pytest.mark.django_db

WHO = [
    "marketer",
    "rep",
    "other_rep",
    "manager",
    "other_manager",
    "admin",
    "no_role",
    "anonymous",
    "inactive",
]
PEOPLE = [who for who in WHO if who not in ("anonymous", "inactive")]


def everyone(status: int) -> dict[str, int]:
    """The status every person gets; nobody and the deactivated rep are refused before anything else (401)."""
    return {**dict.fromkeys(PEOPLE, status), "anonymous": 401, "inactive": 401}


def the_rep_s(**statuses: int) -> dict[str, int]:
    """For an object of the rep's: who cannot see it gets 404; the rest as given."""
    return {**everyone(404), **statuses}


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # {lead} {qualified} {accepted} {rejected} {disputed} {reason} {definition} {run} {feedback} filled in
    expected: dict[str, int]
    body: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


READ_ONLY_LISTS = [
    "/api/leads/", "/api/handoffs/", "/api/reason-codes/", "/api/definitions/", "/api/sync-runs/", "/api/feedback/",
]
READ_ONLY_OBJECTS = [
    "/api/leads/{lead}/",
    "/api/handoffs/{qualified}/",
    "/api/reason-codes/{reason}/",
    "/api/definitions/{definition}/",
    "/api/sync-runs/{run}/",
    "/api/feedback/{feedback}/",
]

# Actions on a handoff: the rep and their manager work it, marketing disputes, the manager decides; an admin has no
# role in the rules of engagement, so may read everything and do none of it.
WORKS_IT = {"rep": 200, "manager": 200, "marketer": 403, "admin": 403}

CASES = [
    # Leads
    Case("GET", "/api/leads/", everyone(200)),
    Case("GET", "/api/leads/{lead}/", the_rep_s(marketer=200, rep=200, manager=200, admin=200)),
    Case("POST", "/api/leads/{lead}/qualify/", the_rep_s(marketer=201, rep=403, manager=403, admin=403)),
    # Handoffs: reading
    Case("GET", "/api/handoffs/", everyone(200)),
    Case("GET", "/api/handoffs/{qualified}/", the_rep_s(marketer=200, rep=200, manager=200, admin=200)),
    # Handoffs: the actions, each in the state it applies to
    Case("POST", "/api/handoffs/{qualified}/accept/", the_rep_s(**WORKS_IT)),
    Case("POST", "/api/handoffs/{qualified}/reject/", the_rep_s(**WORKS_IT), {"reason": "student"}),
    Case("POST", "/api/handoffs/{accepted}/touch/", the_rep_s(**WORKS_IT), {"kind": "call", "outcome": "attempt"}),
    Case("POST", "/api/handoffs/{accepted}/convert/", the_rep_s(**WORKS_IT)),
    # Marketing may recycle a rejected lead, not an accepted one: its role may recycle, the state is wrong (409).
    Case(
        "POST",
        "/api/handoffs/{accepted}/recycle/",
        the_rep_s(rep=200, manager=200, marketer=409, admin=403),
        {"reason": "not_ready"},
    ),
    Case(
        "POST",
        "/api/handoffs/{rejected}/recycle/",
        the_rep_s(rep=200, manager=200, marketer=200, admin=403),
        {"reason": "not_ready"},
    ),
    Case(
        "POST",
        "/api/handoffs/{rejected}/dispute/",
        the_rep_s(marketer=200, rep=403, manager=403, admin=403),
        {"reason": "meets_definition"},
    ),
    Case(
        "POST",
        "/api/handoffs/{disputed}/resolve/",
        the_rep_s(manager=200, marketer=403, rep=403, admin=403),
        {"decision": "uphold"},
    ),
    # A manual pause of the SLA clocks (the rep's manager; the rules also let the rep), with a reason; resuming clocks
    # that are not paused is a wrong state (409) for who may do it.
    Case("POST", "/api/handoffs/{accepted}/pause/", the_rep_s(**WORKS_IT), {"note": "Customer away"}),
    Case(
        "POST",
        "/api/handoffs/{accepted}/resume/",
        the_rep_s(rep=409, manager=409, marketer=403, admin=403),
        {"note": "Customer back"},
    ),
    # Bulk reject names ids in the body: one the caller cannot see is a 400 naming `ids`, as if it did not exist.
    Case(
        "POST",
        "/api/handoffs/bulk-reject/",
        {**everyone(400), **WORKS_IT},
        {"ids": ["{qualified}"], "reason": "student"},
    ),
    # Sales feedback: the rep was asked about the lead they rejected; their manager and marketing read it, only the
    # rep rates it.
    Case("GET", "/api/feedback/", everyone(200)),
    Case("GET", "/api/feedback/{feedback}/", the_rep_s(rep=200, manager=200, marketer=200, admin=200)),
    Case(
        "POST",
        "/api/feedback/{feedback}/rate/",
        the_rep_s(rep=200, manager=403, marketer=403, admin=403),
        {"rating": 2, "reasons": ["pricing_objection"]},
    ),
    # The manager reports: managers (their teams), marketing (every team, in aggregate; not by rep) and admins, as
    # JSON or CSV; a rep reads only their own figures (My SLA). Never a write.
    *(
        Case("GET", path, {**everyone(403), "marketer": 200, "manager": 200, "other_manager": 200, "admin": 200})
        for path in ("/api/reports/", "/api/reports/?format=csv&table=reasons", "/api/reports/relationship/",
                     "/api/reports/relationship/?format=csv")
    ),
    Case("GET", "/api/reports/?group_by=rep",
         {**everyone(403), "marketer": 403, "manager": 200, "other_manager": 200, "admin": 200}),
    *(
        Case("GET", path, {**everyone(403), "rep": 200, "other_rep": 200})
        for path in ("/api/reports/my-sla/", "/api/reports/my-sla/?format=csv")
    ),
    *(
        Case(method, path, {**everyone(403), "marketer": 405, "manager": 405, "other_manager": 405, "admin": 405})
        for path in ("/api/reports/", "/api/reports/relationship/") for method in ("POST", "PUT", "DELETE")
    ),
    # Routing: the rules (edited in the admin) are reference data; a rep's routing is theirs and their manager's
    # (admins too); the manager (or an admin) changes weights and caps; the rep or their manager sets them away; the
    # team queues are for managers and admins. Bad methods are 405.
    Case("GET", "/api/routing/rules/", everyone(200)),
    Case("GET", "/api/routing/rules/{routing_rules}/", everyone(200)),
    Case("GET", "/api/routing/reps/", everyone(200)),
    Case("GET", "/api/routing/reps/{rep_user}/", the_rep_s(rep=200, manager=200, admin=200)),
    Case("PATCH", "/api/routing/reps/{rep_user}/", the_rep_s(rep=403, manager=200, admin=200), {"weight": 2}),
    Case("GET", "/api/routing/away/", everyone(200)),
    Case(
        "POST",
        "/api/routing/away/",
        {**everyone(403), "rep": 201, "manager": 201, "admin": 201},
        {"rep": "{rep_user}", "starts_on": "2026-04-01", "ends_on": "2026-04-02"},
    ),
    Case("GET", "/api/routing/away/{away}/", the_rep_s(rep=200, manager=200, admin=200)),
    Case("DELETE", "/api/routing/away/{away}/", the_rep_s(rep=204, manager=204, admin=204)),
    Case("GET", "/api/routing/queue/", {**everyone(403), "manager": 200, "other_manager": 200, "admin": 200}),
    *(
        Case(method, path, everyone(405))
        for method, path in [
            ("POST", "/api/routing/rules/"), ("PUT", "/api/routing/rules/{routing_rules}/"),
            ("PATCH", "/api/routing/rules/{routing_rules}/"), ("DELETE", "/api/routing/rules/{routing_rules}/"),
            ("POST", "/api/routing/reps/"), ("PUT", "/api/routing/reps/{rep_user}/"),
            ("DELETE", "/api/routing/reps/{rep_user}/"), ("PUT", "/api/routing/away/{away}/"),
            ("PATCH", "/api/routing/away/{away}/"),
        ]
    ),
    Case("POST", "/api/routing/queue/", {**everyone(403), "manager": 405, "other_manager": 405, "admin": 405}),
    # Reference data: everyone signed in reads it
    Case("GET", "/api/reason-codes/", everyone(200)),
    Case("GET", "/api/reason-codes/{reason}/", everyone(200)),
    Case("GET", "/api/definitions/", everyone(200)),
    Case("GET", "/api/definitions/{definition}/", everyone(200)),
    # CRM sync runs: managers (any team) and admins
    *(
        Case("GET", path, {**everyone(403), "manager": 200, "other_manager": 200, "admin": 200})
        for path in ("/api/sync-runs/", "/api/sync-runs/{run}/")
    ),
    # Nothing is created, changed or deleted through the API except by the actions above.
    # (Sync runs: who may not read them hears so first.)
    *(
        Case(method, path, {**everyone(403), "manager": 405, "other_manager": 405, "admin": 405} if "sync" in path
             else everyone(405))
        for method, path in [
            *(("POST", path) for path in READ_ONLY_LISTS),
            *((method, path) for path in READ_ONLY_OBJECTS for method in ("PUT", "PATCH", "DELETE")),
        ]
    ),
    # The schema and its docs page are public (the deactivated rep's token is still refused: it is checked first).
    Case("GET", "/api/schema/", {**dict.fromkeys(WHO, 200), "inactive": 401}),
    Case("GET", "/api/docs/", {**dict.fromkeys(WHO, 200), "inactive": 401}),
]


@pytest.fixture
def world(cast, qualified):
    """The rep's lead with no open handoff, the rep's handoffs in four states, reference data, one sync run."""

    def handed() -> object:
        return machine.handoff_qualify(lead=make_lead(owner=cast.rep), actor=cast.actor("marketer"))

    accepted = machine.handoff_accept(handoff=handed(), actor=cast.actor("rep"))
    rejected = machine.handoff_reject(handoff=handed(), actor=cast.actor("rep"), reason="wrong_region")
    disputed = machine.handoff_dispute(
        handoff=machine.handoff_reject(handoff=handed(), actor=cast.actor("rep"), reason="student"),
        actor=cast.actor("marketer"),
        reason="meets_definition",
    )
    now = timezone.now()
    run = SyncRun.objects.create(
        kind=SyncRun.Kind.INCREMENTAL, started_at=now, finished_at=now, outcome=SyncRun.Outcome.SUCCEEDED
    )
    feedback_requests_create()
    return {
        "lead": make_lead(owner=cast.rep).pk,
        "qualified": qualified.pk,
        "accepted": accepted.pk,
        "rejected": rejected.pk,
        "disputed": disputed.pk,
        "reason": ReasonCode.objects.filter(is_active=True).first().pk,
        "definition": LeadDefinition.objects.first().pk,
        "run": run.pk,
        "feedback": FeedbackRequest.objects.get(handoff=rejected).pk,
        "routing_rules": RoutingRules.objects.create(
            version=1, name="By region", territories=[], catch_all_team=cast.team, is_active=True
        ).pk,
        "rep_user": cast.rep.pk,
        "away": AwayPeriod.objects.create(
            user=cast.rep, starts_on=timezone.localdate(), ends_on=timezone.localdate()
        ).pk,
    }


@pytest.fixture
def callers(cast) -> dict[str, APIClient]:
    """A client per kind of caller, each with a token of their own (made before anything is measured)."""
    people = {
        "marketer": cast.marketer,
        "rep": cast.rep,
        "other_rep": cast.other_rep,
        "manager": cast.manager,
        "other_manager": cast.other_manager,
        "admin": make_user("ada.admin", is_staff=True, is_superuser=True),
        "no_role": cast.outsider,
        "inactive": make_user("ivy.inactive", Role.SALES_REP, team=cast.team),
    }
    clients = {"anonymous": APIClient()}
    for who, user in people.items():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
        clients[who] = client
    # Deactivated after the token was issued: the token stays in the table and must stop working.
    User.objects.filter(username="ivy.inactive").update(is_active=False)
    return clients


WRITE = re.compile(r"\b(INSERT\s+INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM|COPY\s+\S+\s*\(?)", re.IGNORECASE)


def writes(queries) -> list[str]:
    """The statements among the captured queries that write a row (a SELECT … FOR UPDATE does not)."""
    return [query["sql"] for query in queries if WRITE.search(query["sql"])]


def _fill(value, ids: dict[str, int]):
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    if isinstance(value, list):
        return [_fill(item, ids) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    return value


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_each_caller_gets_the_status_the_rules_give_and_a_refusal_writes_nothing(world, callers, case):
    url = case.path.format(**world)
    body = json.dumps(_fill(case.body, world))
    statuses, problems = {}, []
    for who in WHO:
        # Each caller meets the same world: what one caller's action writes is rolled back before the next.
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            response = callers[who].generic(case.method, url, body, content_type="application/json")
            status = statuses[who] = response.status_code
            wrote = bool(writes(queries.captured_queries))
            transaction.set_rollback(True)
        if status >= 400 and not url.startswith(("/api/schema/", "/api/docs/")):  # a YAML and an HTML page
            error = response.json()
            if not (set(error) <= {"detail", "code", "field"} and error["detail"] and error["code"]):
                problems.append(f"{who}: {status} with a body not in the API's error shape: {error}")
        if status == 401 and response.get("WWW-Authenticate") != "Token":
            problems.append(f"{who}: 401 without WWW-Authenticate: Token")
        if wrote != (case.method != "GET" and 200 <= status < 300):
            problems.append(f"{who}: {status} and {'wrote' if wrote else 'wrote nothing'}")

    assert statuses == case.expected
    assert not problems


def test_the_matrix_covers_every_operation_of_the_schema(db):
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    documented = {(method.upper(), path) for path, ops in schema["paths"].items() for method in ops}
    covered = {(case.method, _template(case.path)) for case in CASES}
    # The token endpoint is the way in: its matrix is below.
    assert documented - covered == {("POST", "/api/auth/token/")}


def _template(path: str) -> str:
    path = path.split("?")[0]
    for name in ("lead", "qualified", "accepted", "rejected", "disputed", "reason", "definition", "run", "feedback",
                 "routing_rules", "rep_user", "away"):
        path = path.replace("{" + name + "}", "{id}")
    return path


# ---------------------------------------------------------------------------------------------
# POST /api/auth/token/: any active person with their password gets a token, and nobody else does
# ---------------------------------------------------------------------------------------------
TOKEN_CASES = [
    ("marketer", "pw", 200),
    ("rep", "pw", 200),
    ("manager", "pw", 200),
    ("admin", "pw", 200),
    ("no_role", "pw", 200),  # a token is not a permission: without a role it reads empty lists
    ("inactive", "pw", 400),
    ("rep", "wrong", 400),
    ("nobody-by-that-name", "pw", 400),
]


@pytest.mark.parametrize(("who", "password", "expected"), TOKEN_CASES)
def test_a_token_is_given_only_for_an_active_account_and_its_password(cast, who, password, expected):
    users = {
        "marketer": cast.marketer,
        "rep": cast.rep,
        "manager": cast.manager,
        "admin": make_user("ada.admin", is_staff=True, is_superuser=True),
        "no_role": cast.outsider,
        "inactive": make_user("ivy.inactive", Role.SALES_REP, team=cast.team, is_active=False),
    }
    username = users[who].username if who in users else who

    with CaptureQueriesContext(connection) as queries:
        response = APIClient().post("/api/auth/token/", {"username": username, "password": password}, format="json")

    assert response.status_code == expected, response.content
    if expected == 200:
        assert Token.objects.get(user__username=username).key == response.json()["token"]
    else:
        assert response.json()["code"] == "authorization"
        assert writes(queries.captured_queries) == []
