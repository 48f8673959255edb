"""Who may open or post what among the pages: every page × every kind of visitor, with what each gets.

The visitors: a marketer, the lead's rep, a rep of another team, the rep's manager, another team's manager, an admin
(staff, superuser, no role), a person with no role, nobody (not signed in), and a rep whose account was deactivated
while signed in (their session no longer counts). The object is always the rep's: a lead, or a handoff in the state
the action applies to.

What a visitor gets, in words:
  200 / 400 / 403 / 404 / 405   that status;
  login                         a redirect to the sign-in page, coming back here after;
  done                          a redirect back after the change, with a success message, and the change written;
  refused                       a redirect back with a message saying why, and nothing written;
  a path                        a redirect there (the landing page of each role);
  … and wrote                   that, with rows written (only the one-click feedback link saves and answers 200).
Nothing else writes a row of the app's data (sessions aside: signing out ends one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import unquote

import pytest
from django.contrib import messages
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver

from handoff.models import AwayPeriod, FeedbackRequest, Role
from handoff.services import handoffs as machine
from handoff.services.feedback import feedback_link_token, feedback_requests_create
from tests.factories import make_lead, make_user

pytestmark = pytest.mark.django_db

WHO = ["marketer", "rep", "other_rep", "manager", "other_manager", "admin", "no_role", "anonymous", "inactive"]
PEOPLE = [who for who in WHO if who not in ("anonymous", "inactive")]
SIGNED_OUT = {"anonymous": "login", "inactive": "login"}


def only(*allowed: str, ok: str = "200", others: str = "403") -> dict[str, str]:
    """A page of one or more roles: they get `ok`, every other person `others`; nobody signs in first."""
    return {**{who: ok if who in allowed else others for who in PEOPLE}, **SIGNED_OUT}


def the_rep_s(**got: str) -> dict[str, str]:
    """For an object of the rep's: who cannot see it gets 404; the rest as given."""
    return {**dict.fromkeys(PEOPLE, "404"), **SIGNED_OUT, **got}


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # {lead} {qualified} {accepted} {rejected} {disputed} {paused} {feedback} {link} are filled in
    expected: dict[str, str]
    data: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


RATING = {"r{feedback}-rating": 2, "r{feedback}-reasons": ["pricing_objection"], "r{feedback}-revision": 0}

# The handoff actions: allowed -> done, visible but not allowed -> refused (a message), not visible -> 404.
WORKS_IT = {"rep": "done", "manager": "done", "marketer": "refused", "admin": "refused"}
ACTIONS = [
    ("{qualified}", "accept", WORKS_IT, {}),
    ("{qualified}", "reject", WORKS_IT, {"reason": "student"}),
    ("{accepted}", "touch", WORKS_IT, {"kind": "call", "outcome": "attempt"}),
    ("{accepted}", "convert", WORKS_IT, {}),
    ("{rejected}", "recycle", {"rep": "done", "manager": "done", "marketer": "done", "admin": "refused"},
     {"reason": "not_ready"}),
    ("{rejected}", "dispute", {"marketer": "done", "rep": "refused", "manager": "refused", "admin": "refused"},
     {"reason": "meets_definition"}),
    ("{disputed}", "resolve", {"manager": "done", "marketer": "refused", "rep": "refused", "admin": "refused"},
     {"decision": "uphold"}),
    ("{qualified}", "reassign", {"manager": "done", "marketer": "refused", "rep": "refused", "admin": "refused"},
     {"owner": "queue"}),
    # The SLA clocks paused and resumed by hand, with a reason (the rep's manager; the rules also let the rep)
    ("{accepted}", "pause", WORKS_IT, {"note": "Customer away"}),
    ("{paused}", "resume", WORKS_IT, {"note": "Customer back"}),
]


def _form_first(expected: dict[str, str]) -> dict[str, str]:
    """Opening an action's page: its form for who may act, the refusal for who may not."""
    return {who: "200" if got == "done" else got for who, got in expected.items()}


CASES = [
    Case("GET", "/", {
        "marketer": "/qualify/", "rep": "/my-handoffs/", "other_rep": "/my-handoffs/", "manager": "/team/",
        "other_manager": "/team/", "admin": "/admin/", "no_role": "403", **SIGNED_OUT,
    }),
    Case("GET", "/login/", {**dict.fromkeys(PEOPLE, "/"), "anonymous": "200", "inactive": "200"}),
    Case("POST", "/logout/", dict.fromkeys(WHO, "/login/")),
    Case("GET", "/logout/", {**dict.fromkeys(WHO, "405")}),
    # Marketing's lists
    Case("GET", "/qualify/", only("marketer")),
    Case("POST", "/qualify/", only("marketer", ok="done"), {"leads": ["{lead}"]}),
    Case("GET", "/rejected/", only("marketer")),
    Case("GET", "/mqls/", only("marketer")),
    Case("GET", "/mqls/?mine=disputed&state=disputed&q=Ada", only("marketer")),
    Case("POST", "/leads/{lead}/qualify/", only("marketer", ok="done")),
    Case("GET", "/leads/{lead}/qualify/", dict.fromkeys(WHO, "405")),
    # The rep's list, and its bulk reject (a handoff not on the rep's own list is refused at the field: 400)
    Case("GET", "/my-handoffs/", only("rep", "other_rep")),
    Case("POST", "/my-handoffs/", {**only("rep", ok="done"), "other_rep": "400"},
         {"handoffs": ["{qualified}"], "reason": "student"}),
    # The manager's lists
    Case("GET", "/team/", only("manager", "other_manager")),
    # … and its bulk assign (a handoff the other team's manager cannot see is refused at the field: 400)
    Case("POST", "/team/", {**only("manager", ok="done"), "other_manager": "400"},
         {"handoffs": ["{qualified}"], "owner": "queue"}),
    Case("POST", "/my-handoffs/?op=accept", {**only("rep", ok="done"), "other_rep": "400"},
         {"handoffs": ["{qualified}"], "op": "accept"}),
    Case("GET", "/disputes/", only("manager", "other_manager")),
    # A lead's page
    Case("GET", "/leads/{lead}/", the_rep_s(marketer="200", rep="200", manager="200", admin="200")),
    # Each action, as a page (GET) and as a form post
    *(
        Case(method, f"/handoffs/{target}/{action}/", the_rep_s(**(got if method == "POST" else _form_first(got))),
             data if method == "POST" else {})
        for target, action, got, data in ACTIONS
        for method in ("GET", "POST")
    ),
    Case("POST", "/handoffs/{qualified}/fly/", {**dict.fromkeys(PEOPLE, "404"), **SIGNED_OUT}),
    # Sales feedback: the rep was asked about the lead they rejected. Their list and its one-click form are theirs;
    # the request's page is for whoever may read it (the rep, their manager, marketing, admins), and only the rep
    # may answer there (the others get the refusal, 403). The digest's link needs no sign-in: its signed token
    # names the rep, so anyone holding it (the rep, or nobody signed in) may save that rating; another person
    # signed in is told it is someone else's (403).
    Case("GET", "/feedback/", only("rep", "other_rep")),
    Case("POST", "/feedback/", {**only("rep", ok="done"), "other_rep": "404"}, {"request": "{feedback}", **RATING}),
    Case("GET", "/feedback/{feedback}/", the_rep_s(rep="200", manager="200", marketer="200", admin="200")),
    Case("POST", "/feedback/{feedback}/", the_rep_s(rep="done", manager="403", marketer="403", admin="403"), RATING),
    Case("GET", "/feedback/rate/{link}/", {**dict.fromkeys(PEOPLE, "403"), "rep": "200", "anonymous": "200",
                                           "inactive": "200"}),
    Case("POST", "/feedback/rate/{link}/", {**dict.fromkeys(PEOPLE, "403"), "rep": "200 and wrote",
                                            "anonymous": "200 and wrote", "inactive": "200 and wrote"},
         {"r{feedback}-reasons": ["pricing_objection"]}),
    # Marketing's lead quality report and the feedback behind it
    Case("GET", "/quality/", only("marketer")),
    Case("GET", "/quality/feedback/", only("marketer")),
    # The manager reports: managers (their teams), marketing (every team, in aggregate) and admins; not reps (their
    # own figures are the "My SLA" card of their list), and never a write, the CSV downloads included.
    *(
        Case("GET", path, {**only("marketer", "manager", "other_manager", "admin")})
        for path in ("/reports/", "/reports/?format=csv&table=sales", "/reports/relationship/",
                     "/reports/relationship/?format=csv")
    ),
    # Routing: managers see their teams' and change weights, caps and the team's setting; a rep sees their own; the
    # rep or their manager sets them away (another team's manager or rep is refused: a message, nothing written).
    Case("GET", "/routing/", only("rep", "other_rep", "manager", "other_manager")),
    Case("POST", "/routing/away/", {**only("rep", "manager", ok="done"), "other_rep": "refused",
                                    "other_manager": "refused"},
         {"rep": "{rep_user}", "starts_on": "2026-04-01", "ends_on": "2026-04-02"}),
    Case("POST", "/routing/away/{away}/cancel/", {**only("rep", "manager", ok="done"), "other_rep": "404",
                                                  "other_manager": "404"}),
    Case("POST", "/routing/reps/{rep_user}/", {**only("manager", ok="done"), "other_manager": "404"}, {"weight": 2}),
    Case("POST", "/routing/teams/{team}/", {**only("manager", ok="done"), "other_manager": "404"},
         {"skip_outside_hours": "on"}),
    *(
        Case("GET", path, dict.fromkeys(WHO, "405"))
        for path in ("/routing/away/", "/routing/away/{away}/cancel/", "/routing/reps/{rep_user}/",
                     "/routing/teams/{team}/")
    ),
    # Outside handoff.urls: the admin (staff only) and the health check (anyone, for the probes)
    Case("GET", "/admin/", {**dict.fromkeys(WHO, "/admin/login/?next=/admin/"), "admin": "200"}),
    Case("GET", "/healthz", dict.fromkeys(WHO, "200")),
]


@pytest.fixture
def world(cast, qualified):
    def handed():
        return machine.handoff_qualify(lead=make_lead(owner=cast.rep), actor=cast.actor("marketer"))

    accepted = machine.handoff_accept(handoff=handed(), actor=cast.actor("rep"))
    rejected = machine.handoff_reject(handoff=handed(), actor=cast.actor("rep"), reason="wrong_region")
    disputed = machine.handoff_dispute(
        handoff=machine.handoff_reject(handoff=handed(), actor=cast.actor("rep"), reason="student"),
        actor=cast.actor("marketer"),
        reason="meets_definition",
    )
    paused = machine.handoff_pause(handoff=handed(), actor=cast.actor("manager"), note="Customer away")
    feedback_requests_create()
    asked = FeedbackRequest.objects.get(handoff=rejected, rater=cast.rep)
    return {
        "lead": make_lead(owner=cast.rep).pk,
        "qualified": qualified.pk,
        "accepted": accepted.pk,
        "rejected": rejected.pk,
        "disputed": disputed.pk,
        "paused": paused.pk,
        "feedback": asked.pk,
        "link": feedback_link_token(request_id=asked.pk, rater_id=cast.rep.pk, rating=2, revision=0),
        "rep_user": cast.rep.pk,
        "team": cast.team.pk,
        "away": AwayPeriod.objects.create(user=cast.rep, starts_on=date(2026, 4, 1), ends_on=date(2026, 4, 2)).pk,
    }


@pytest.fixture
def visitors(cast) -> dict[str, Client]:
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
    clients = {"anonymous": Client()}
    for who, user in people.items():
        clients[who] = Client()
        clients[who].force_login(user)
    # Deactivated while signed in: the session stays, and must stop counting.
    User.objects.filter(username="ivy.inactive").update(is_active=False)
    return clients


# A write to the app's data; the session table is the sign-in's own (signing out deletes a row of it).
WRITE = re.compile(r"\b(INSERT\s+INTO|UPDATE\s+(\S+)\s+SET|DELETE\s+FROM|COPY\s)", re.IGNORECASE)


def wrote(queries) -> bool:
    return any(WRITE.search(q["sql"]) and "django_session" not in q["sql"] for q in queries)


def _fill(value, ids: dict[str, int]):
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    if isinstance(value, list):
        return [_fill(item, ids) for item in value]
    if isinstance(value, dict):
        return {key.format(**ids): _fill(item, ids) for key, item in value.items()}
    return value


def what_happened(response, wrote_rows: bool, path: str) -> str:
    status = response.status_code
    wrote_too = " and wrote" if wrote_rows else ""
    if status != 302:
        return f"{status}{wrote_too}"
    target = response["Location"]
    if target.startswith("/login/?next="):
        return f"login{wrote_too}"
    levels = {message.level for message in messages.get_messages(response.wsgi_request)}
    if wrote_rows and levels == {messages.SUCCESS}:
        return "done"
    if not wrote_rows and messages.ERROR in levels:
        return "refused"
    return f"{target}{wrote_too}"


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_each_visitor_gets_what_their_role_allows_and_a_refusal_writes_nothing(world, visitors, case):
    path = case.path.format(**world)
    data = _fill(case.data, world)
    got = {}
    for who in WHO:
        # Each visitor meets the same world: what one visitor's post writes is rolled back before the next.
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            client = visitors[who]
            response = client.post(path, data) if case.method == "POST" else client.get(path)
            got[who] = what_happened(response, wrote(queries.captured_queries), path)
            transaction.set_rollback(True)
        if who in ("anonymous", "inactive") and got[who] == "login":
            assert unquote(response["Location"]) == f"/login/?next={path}", response["Location"]

    assert got == case.expected


def test_the_matrix_covers_every_page():
    """Each route of the site (the API aside: tests/api/test_authorization_matrix.py) has a row above."""
    covered = {re.sub(r"\{\w+\}", "<>", case.path) for case in CASES}
    routes = set()

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            text = prefix + str(pattern.pattern).lstrip("^").rstrip("$")
            if isinstance(pattern, URLResolver):
                if not text.startswith(("api/", "admin/")):
                    walk(pattern.url_patterns, text)
            elif isinstance(pattern, URLPattern):
                routes.add("/" + re.sub(r"<[^>]+>", "<>", text))

    walk(get_resolver().url_patterns, "")
    missing = {route for route in routes if not route.startswith(("/api/", "/admin/"))} - covered
    missing = {route for route in missing if route.replace("<>/<>", "<>/fly") not in covered}
    assert not missing, f"pages with no row in the matrix: {sorted(missing)}"
