"""What a read costs: the list rows are the serializers' output read another way, every list API costs the same
queries for 3 rows or 30, and no request reads the reader's roles twice."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.db.models import OuterRef, Prefetch, Subquery
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient, APIRequestFactory

from handoff.api import serializers as s
from handoff.api.authentication import TokenAuthentication
from handoff.api.authentication import _statement as token_statement
from handoff.db import _prepared_statement, statement_text
from handoff.models import Handoff, Lead, Milestone, ReasonCode, RepProfile, Role, SyncRun, Team
from handoff.models.handoffs import OPEN_STATES
from handoff.selectors.people import managed_teams, user_roles
from handoff.selectors.reader import _statement as reader_statement
from handoff.services import handoffs as machine
from handoff.services.actors import Actor
from handoff.services.definitions import definition_create
from handoff.services.feedback import feedback_requests_create
from handoff.services.handoffs import handoffs_reject

from ..factories import make_lead, make_user

pytestmark = pytest.mark.django_db


def as_json(data) -> object:
    return json.loads(json.dumps(data, default=str))


@pytest.fixture
def every_kind(cast, qualified):
    """Handoffs in every shape a row can take: accepted with a breached clock, rejected, disputed, in the queue,
    another team's, owned by a rep in no team, a lead with no score and one converted."""
    marketer = cast.actor("marketer")

    def handed(owner, **fields):
        return machine.handoff_qualify(lead=make_lead(owner=owner, **fields), actor=marketer)

    accepted = machine.handoff_accept(handoff=handed(cast.rep, score=None), actor=cast.actor("rep"))
    Milestone.objects.filter(handoff=accepted, kind="accept").update(breached_at=timezone.now() - timedelta(hours=1))
    rejected = machine.handoff_reject(handoff=handed(cast.rep), actor=cast.actor("rep"), reason="wrong_region")
    machine.handoff_dispute(
        handoff=machine.handoff_reject(handoff=handed(cast.rep), actor=cast.actor("rep"), reason="student"),
        actor=marketer,
        reason="meets_definition",
    )
    handed(None)
    handed(cast.other_rep, first_name="", title="VP")
    handed(make_user("lone.rep", Role.SALES_REP, first_name="Lone", last_name="Rep"))
    make_lead(owner=cast.rep, is_converted=True, converted_at=timezone.now() - timedelta(days=2))
    make_lead(owner=None, crm_created_at=None)
    return rejected


def serialized_handoffs(user) -> dict[int, dict]:
    clocks = Milestone.objects.select_related("policy").order_by("round", "due_at")
    handoffs = Handoff.objects.select_related(
        "lead", "owner__profile", "definition", "reason", "dispute_reason", "qualified_by"
    ).prefetch_related(Prefetch("milestones", queryset=clocks))
    data = s.HandoffSerializer(handoffs, many=True, context={"actor": Actor.person(user)}).data
    return {row["id"]: as_json(row) for row in data}


def serialized_leads() -> dict[int, dict]:
    open_handoff = Handoff.objects.filter(lead=OuterRef("pk"), state__in=OPEN_STATES).values("pk")[:1]
    leads = Lead.objects.select_related("owner").annotate(open_handoff_id=Subquery(open_handoff))
    return {row["id"]: as_json(row) for row in s.LeadSerializer(leads, many=True).data}


# ---------------------------------------------------------------------------------------------
# The rows are the serializers' output
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reader", ["rep", "manager", "other_manager", "marketer"])
def test_a_handoff_list_row_is_what_the_handoff_serializer_gives(api, cast, every_kind, reader):
    rows = api(reader).get("/api/handoffs/").json()["results"]

    assert rows
    expected = serialized_handoffs(getattr(cast, reader))
    for row in rows:
        assert row == expected[row["id"]]
        assert list(row) == list(expected[row["id"]])
    assert any(m["is_breach"] for row in rows for m in row["milestones"]) or reader == "other_manager"


def test_instants_on_a_whole_second_and_with_a_fraction_are_written_as_drf_writes_them(api, cast, every_kind):
    whole = timezone.now().replace(microsecond=0)
    Handoff.objects.filter(pk=every_kind.pk).update(handed_at=whole, updated_at=whole + timedelta(microseconds=50))
    Milestone.objects.filter(handoff=every_kind).update(started_at=whole)
    Milestone.objects.filter(handoff=every_kind, kind="accept").update(due_at=whole + timedelta(microseconds=7))

    rows = {row["id"]: row for row in api("rep").get("/api/handoffs/").json()["results"]}

    assert rows[every_kind.pk] == serialized_handoffs(cast.rep)[every_kind.pk]
    assert rows[every_kind.pk]["handed_at"] == whole.isoformat().replace("+00:00", "Z")
    assert rows[every_kind.pk]["updated_at"].endswith(".000050Z")


@pytest.mark.parametrize(("first", "last"), [("Vlad", "Ivanov"), ("\tAda ", "Lovelace\n"), ("", ""), (" ", "")])
def test_a_person_s_name_in_a_row_is_what_the_serializer_gives(api, cast, first, last):
    rep = make_user("named.rep", Role.SALES_REP, first_name=first, last_name=last)
    handoff = machine.handoff_qualify(lead=make_lead(owner=rep), actor=cast.actor("marketer"))

    (row,) = api("marketer").get("/api/handoffs/").json()["results"]

    assert row["owner"] == serialized_handoffs(cast.marketer)[handoff.pk]["owner"]
    assert row["owner"]["name"] == (f"{first} {last}".strip() or "named.rep")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL writes the rows' JSON only on PostgreSQL")
def test_on_postgresql_the_page_query_writes_each_handoff_row_as_json(api, cast, every_kind):
    with CaptureQueriesContext(connection) as queries:
        rows = api("manager").get("/api/handoffs/").json()["results"]

    sql = [statement_text(q["sql"]) for q in queries.captured_queries]
    assert rows
    assert any("json_build_object" in statement for statement in sql)
    assert not any('FROM "handoff_milestone"' in statement.split("json_agg")[0] for statement in sql)


@pytest.mark.parametrize("reader", ["rep", "manager", "marketer"])
def test_a_lead_list_row_is_what_the_lead_serializer_gives(api, cast, every_kind, reader):
    rows = api(reader).get("/api/leads/").json()["results"]

    assert rows
    expected = serialized_leads()
    for row in rows:
        assert row == expected[row["id"]]
        assert list(row) == list(expected[row["id"]])


def test_the_rows_give_instants_in_the_active_zone_as_the_serializers_do(cast, every_kind):
    with timezone.override("America/New_York"):
        expected = serialized_handoffs(cast.marketer)
        values = Handoff.objects.values(*s.HANDOFF_COLUMNS)
        rows = s.handoff_rows(values, actor=cast.actor("marketer"))

    assert rows and all(as_json(row) == expected[row["id"]] for row in rows)
    assert rows[0]["handed_at"].endswith(("-05:00", "-04:00"))


def test_the_bulk_reject_answers_the_list_rows_of_what_it_rejected(api, cast):
    leads = [make_lead(owner=cast.rep) for _ in range(3)]
    handed = machine.handoffs_qualify(lead_ids=[lead.pk for lead in leads], actor=cast.actor("marketer"))
    ids = sorted(h.pk for h in handed)

    response = api("rep").post("/api/handoffs/bulk-reject/", {"ids": ids, "reason": "duplicate"}, format="json")

    assert response.status_code == 200, response.json()
    expected = serialized_handoffs(cast.rep)
    assert response.json()["results"] == [expected[pk] for pk in ids]


# ---------------------------------------------------------------------------------------------
# Every list costs the same queries whatever its length
# ---------------------------------------------------------------------------------------------
def grow(cast, n: int) -> None:
    """n more rows of every list: handoffs of the team (half rejected, with their feedback requests), reason
    codes, definition versions, sync runs."""
    leads = [make_lead(owner=cast.rep) for _ in range(n)]
    handed = machine.handoffs_qualify(lead_ids=[lead.pk for lead in leads], actor=cast.actor("marketer"))
    handoffs_reject(handoffs=[h.pk for h in handed[: n // 2 + 1]], actor=cast.actor("rep"), reason="duplicate")
    feedback_requests_create()
    start = ReasonCode.objects.count()
    ReasonCode.objects.bulk_create(
        ReasonCode(kind="reject", code=f"code-{start + i}", label=f"Code {start + i}") for i in range(n)
    )
    for i in range(n):
        definition_create(name=f"Version {i}", conditions=[], created_by=cast.marketer)
    now = timezone.now()
    SyncRun.objects.bulk_create(
        SyncRun(kind=SyncRun.Kind.INCREMENTAL, started_at=now, finished_at=now, outcome=SyncRun.Outcome.SUCCEEDED)
        for _ in range(n)
    )


LISTS = [
    ("rep", "/api/handoffs/"),
    ("rep", "/api/handoffs/?breached=false&state=qualified&state=rejected"),
    ("manager", "/api/handoffs/"),
    ("manager", "/api/handoffs/?breached=false&team={team}&due_before=2100-01-01T00:00:00Z"),
    ("marketer", "/api/handoffs/"),
    ("rep", "/api/leads/"),
    ("manager", "/api/leads/?qualified=true"),
    ("marketer", "/api/leads/"),
    ("rep", "/api/feedback/"),
    ("manager", "/api/feedback/"),
    ("marketer", "/api/feedback/"),
    ("manager", "/api/sync-runs/"),
    ("rep", "/api/reason-codes/"),
    ("marketer", "/api/definitions/"),
]


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def count(client, url: str) -> tuple[int, int, list[str]]:
    """(rows, queries, the queries) of one GET, through the token authentication a program uses."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.json()
    body = response.json()
    rows = len(body["results"] if isinstance(body, dict) else body)
    return rows, len(queries.captured_queries), [q["sql"] for q in queries.captured_queries]


@pytest.mark.parametrize(("reader", "url"), LISTS)
def test_every_list_costs_the_same_queries_for_three_rows_or_thirty(cast, reader, url):
    client = token_client(getattr(cast, reader))
    url = url.format(team=cast.team.pk)
    client.get(url)  # what a connection prepares once (the token's statement) is prepared
    grow(cast, 3)
    few_rows, few, _ = count(client, url)
    grow(cast, 27)
    many_rows, many, sql = count(client, url)

    assert many_rows > few_rows >= 1
    assert many == few, "\n".join(sql)


# ---------------------------------------------------------------------------------------------
# Roles are read once per request, API and pages alike
# ---------------------------------------------------------------------------------------------
def token_reads(sql: str) -> bool:
    """A query reading a token with its user's roles: as SQL, or (PostgreSQL) the statement prepared for it."""
    statement = token_statement(Token).sql
    assert '"authtoken_token"' in statement and '"auth_group"' in statement
    if connection.vendor == "postgresql":
        return sql.startswith(f"EXECUTE {_prepared_statement(statement)[0]}(")
    return '"authtoken_token"' in sql and '"auth_group"' in sql


def role_reads(sql: list[str]) -> int:
    """Queries reading one person's groups (a query of reps that joins the groups table is not one)."""
    return sum('FROM "auth_group"' in q and '"auth_user_groups"."user_id" = ' in q for q in sql)


@pytest.mark.parametrize(("reader", "url"), LISTS)
def test_an_api_request_reads_the_reader_s_roles_at_most_once(cast, reader, url):
    grow(cast, 3)
    _, _, sql = count(token_client(getattr(cast, reader)), url.format(team=cast.team.pk))

    assert role_reads(sql) <= 1


def test_an_action_reads_the_reader_s_roles_with_their_token(cast, qualified):
    with CaptureQueriesContext(connection) as queries:
        response = token_client(cast.rep).post(f"/api/handoffs/{qualified.pk}/accept/", {}, format="json")

    assert response.status_code == 200, response.json()
    sql = [q["sql"] for q in queries.captured_queries]
    assert role_reads(sql) == 0
    assert sum(token_reads(q) for q in sql) == 1


def test_the_roles_and_teams_read_with_the_token_are_the_user_s(cast):
    cast.manager.groups.add(Group.objects.get(name=Role.MARKETER))
    empty = Team.objects.create(name="Nobody yet", manager=cast.manager)
    for reader, roles in ((cast.rep, {"sales_rep"}), (cast.manager, {"manager", "marketer"})):
        key = Token.objects.get_or_create(user=reader)[0].key
        request = APIRequestFactory().get("/api/handoffs/", HTTP_AUTHORIZATION=f"Token {key}")

        user, _ = TokenAuthentication().authenticate(request)

        assert user == reader
        assert set(user_roles(user)) == roles
        fresh = User.objects.get(pk=reader.pk)
        assert managed_teams(user) == managed_teams(fresh)
    assert managed_teams(user)[empty.pk] == ()
    assert managed_teams(user)[cast.team.pk] == tuple(
        sorted(RepProfile.objects.filter(team=cast.team).values_list("user_id", flat=True))
    )


@pytest.mark.parametrize(
    ("reader", "path"),
    [("rep", "/my-handoffs/"), ("manager", "/team/"), ("manager", "/disputes/"), ("marketer", "/qualify/"),
     ("marketer", "/rejected/"), ("rep", "/"), ("rep", "lead")],
)
def test_a_page_reads_the_reader_with_their_roles_zone_and_teams_in_one_query(cast, every_kind, reader, path):
    client = Client()
    client.force_login(getattr(cast, reader))
    if path == "lead":
        path = f"/leads/{every_kind.lead_id}/"
    client.get(path)  # what a connection prepares once is prepared
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)

    assert response.status_code in (200, 302)
    sql = [statement_text(q["sql"]) for q in queries.captured_queries]
    # The session's user comes with their roles, managed teams, zone and leads to rate (handoff.backends), in one
    # statement (on PostgreSQL prepared once per connection: EXECUTE) ...
    reader_label = _prepared_statement(reader_statement().sql)[0]
    readers = [q for q in sql if q.startswith(f"EXECUTE {reader_label}(")
               or q.startswith('SELECT "auth_user"."id"') and "handoff_role_bits" in q]
    assert len(readers) == 1
    statement = reader_statement().sql
    assert all(column in statement for column in ("handoff_role_bits", "handoff_managed_teams", "handoff_own_team",
                                                  "handoff_zone", "handoff_feedback_pending"))
    # ... so no query of the page reads them again.
    assert role_reads(sql) == 0
    assert not any("handoff_businesscalendar" in q and "auth_user" in q for q in sql if q not in readers)
    assert not any('FROM "handoff_feedbackrequest"' in q and "COUNT(*)" in q for q in sql if q not in readers)
    assert not any('FROM "handoff_team"' in q and '"manager_id" =' in q for q in sql if q not in readers)
    assert not any('FROM "handoff_repprofile"' in q and '"handoff_team"."name"' in q for q in sql if q not in readers)


def test_a_manager_s_team_is_read_once_per_request_and_filters_on_the_owner(cast, every_kind):
    _, _, sql = count(token_client(cast.manager), "/api/handoffs/")

    # The team and its members come with the token (one statement), and no other query reads them.
    assert sum(token_reads(q) for q in sql) == 1
    assert '"handoff_repprofile"' in token_statement(Token).sql and '"handoff_team"' in token_statement(Token).sql
    assert not any('"handoff_repprofile"' in q and '"handoff_team"' in q for q in sql if not token_reads(q))
    statements = [statement_text(q) for q in sql]  # an EXECUTE as the SELECT it runs
    page = next(q for q in statements if q.lstrip("(").startswith('SELECT "handoff_handoff"."id"'))
    assert '"handoff_team"' not in page
    if connection.vendor == "postgresql":
        # One part per team (by the owner's team kept on the handoff) and the queue's, merged in the statement.
        assert page.count("UNION ALL") == 1 and '"owner_team_id" =' in page
    assert make_user("new.rep", Role.SALES_REP, team=cast.team)  # a new member is seen on the next request
    lead = make_lead(owner=User.objects.get(username="new.rep"))
    handed = machine.handoff_qualify(lead=lead, actor=cast.actor("marketer"))
    assert handed.pk in [row["id"] for row in token_client(cast.manager).get("/api/handoffs/").json()["results"]]



def test_each_filter_set_of_a_request_has_filters_of_its_own_and_only_those_it_names():
    from handoff.api.filters import HandoffFilter

    first, second = HandoffFilter({"breached": "true"}), HandoffFilter({"breached": "false", "state": "accepted"})

    assert list(first.filters) == ["breached"]
    assert sorted(second.filters) == ["breached", "state"]
    for filter_set in (first, second):
        for filter_ in filter_set.filters.values():
            assert filter_.parent is filter_set
        assert filter_set.filters["breached"].filter.f is filter_set.filters["breached"]
    assert not any(hasattr(filter_, "parent") for filter_ in HandoffFilter.base_filters.values())
    assert first.qs.query.where != second.qs.query.where
    assert first.get_form_class() is not second.get_form_class()


def test_the_browsable_api_offers_every_filter_whatever_the_query_string_names(cast):
    from handoff.api.filters import HandoffFilter

    client = Client()
    client.force_login(cast.manager)

    page = client.get("/api/handoffs/?state=accepted", HTTP_ACCEPT="text/html").content.decode()

    for name in HandoffFilter.base_filters:
        assert f'name="{name}"' in page, name


def test_a_filter_s_form_field_is_built_once_and_still_judges_each_request_s_value(cast, monkeypatch):
    from django_filters import fields as filter_fields

    from handoff.api.filters import HandoffFilter

    built = []
    field_init = filter_fields.MultipleChoiceField.__init__

    def counting_init(self, *args, **kwargs):
        built.append(self)
        field_init(self, *args, **kwargs)

    monkeypatch.setattr(filter_fields.MultipleChoiceField, "__init__", counting_init)
    client = token_client(cast.rep)
    client.get("/api/handoffs/?state=accepted")  # builds the field if no request built it before
    built.clear()

    answers = [client.get(f"/api/handoffs/?state={state}") for state in ("accepted", "sideways", "qualified")]

    assert built == []
    assert "_field" in vars(HandoffFilter.base_filters["state"])
    assert [answer.status_code for answer in answers] == [200, 400, 200]
    assert answers[1].json()["field"] == "state"
