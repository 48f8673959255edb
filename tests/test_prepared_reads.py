"""A page's reads are prepared on the connection once the process has sent them twice (`handoff.db.prepared_reads`):
the same rows, the same query log, and a statement PostgreSQL will not prepare runs as before."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from handoff.db import prepared_reads, statement_text
from handoff.models import Lead

from .factories import make_lead

pytestmark = pytest.mark.django_db
SINCE = datetime(2000, 1, 1, tzinfo=UTC)
postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's prepared statements")


def _prepared() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, statement FROM pg_prepared_statements WHERE name LIKE 'handoff_r%%'")
        return dict(cursor.fetchall())


def _read(owner_id: int, since) -> list:
    return list(
        Lead.objects.filter(owner_id=owner_id, crm_created_at__gte=since, last_name__in=["Ada", "Bo", "Cy"])
        .order_by("last_name")
        .values_list("last_name", "score")
    )


@pytest.fixture
def leads(cast):
    for name, score in (("Ada", 90), ("Bo", 40), ("Cy", None)):
        make_lead(owner=cast.rep, last_name=name, score=score)
    make_lead(owner=cast.other_rep, last_name="Ada", score=10)
    return cast


@postgres
def test_a_read_sent_twice_is_prepared_then_run_prepared_with_each_run_s_values(leads):
    since = SINCE
    with prepared_reads():
        runs = [_read(owner, since) for owner in (leads.rep.pk, leads.rep.pk, leads.other_rep.pk, leads.rep.pk)]
    statements = [text for text in _prepared().values() if '"handoff_lead"."last_name" IN' in text]

    assert runs[0] == runs[1] == runs[3] == [("Ada", 90), ("Bo", 40), ("Cy", None)]
    assert runs[2] == [("Ada", 10)]
    assert len(statements) == 1 and "$1" in statements[0] and "%s" not in statements[0]


@postgres
def test_the_query_log_counts_each_read_once_and_can_be_read_as_the_select_it_ran(leads):
    since = SINCE
    with prepared_reads():
        _read(leads.rep.pk, since)
        with CaptureQueriesContext(connection) as second:
            _read(leads.rep.pk, since)
        with CaptureQueriesContext(connection) as third:
            _read(leads.rep.pk, since)

    for log in (second, third):
        assert len(log) == 1
        assert log[0]["sql"].startswith("EXECUTE handoff_r")
        assert '"handoff_lead"."last_name" IN (%s, %s, %s)' in statement_text(log[0]["sql"])


@postgres
def test_a_read_postgresql_will_not_prepare_runs_plainly_and_the_transaction_goes_on(leads):
    # A score compared with text: sent plainly, PostgreSQL reads '90' as a number; prepared, the parameter is declared
    # text, and there is no float = text.
    scored = Lead.objects.extra(where=['"handoff_lead"."score" = %s'], params=["90"]).values_list("last_name")
    with prepared_reads(), CaptureQueriesContext(connection) as log:
        answers = [list(scored) for _ in range(3)]
        still = Lead.objects.filter(last_name="Bo").count()

    assert answers == [[("Ada",)]] * 3
    assert still == 1
    assert all(q["sql"].startswith("SELECT") for q in log.captured_queries[:3])
    assert not any('"score" = $1' in text for text in _prepared().values())


@postgres
def test_a_read_with_a_value_of_an_undeclared_type_is_run_plainly(leads):
    with prepared_reads(), CaptureQueriesContext(connection) as log:
        for _ in range(3):
            list(Lead.objects.filter(raw__contains={"Id": "x"}).values_list("pk"))

    assert all(not q["sql"].startswith("EXECUTE") for q in log.captured_queries)


@postgres
def test_at_most_so_many_statements_are_prepared_on_a_connection(leads):
    from handoff.db import _prepared_on

    def prepared() -> int:
        return len(_prepared_on.get(connection.connection, ()))

    connection.ensure_connection()
    before = prepared()
    with prepared_reads(threshold=1, most=before + 2):
        answers = [len(Lead.objects.filter(score__gte=score).values_list("pk")[: score + 1]) for score in range(5)]

    assert prepared() == before + 2
    assert answers == [1, 2, 3, 3, 3]


def test_outside_postgresql_reads_run_as_they_are(leads):
    since = SINCE
    with prepared_reads(), CaptureQueriesContext(connection) as log:
        rows = [_read(leads.rep.pk, since) for _ in range(3)]

    assert rows[0] == rows[2]
    if connection.vendor != "postgresql":
        assert all(q["sql"].startswith("SELECT") for q in log.captured_queries)


@postgres
def test_a_read_through_a_named_cursor_is_left_as_it_is(leads):
    with prepared_reads():
        names = [sorted(Lead.objects.filter(score__gte=30).values_list("last_name", flat=True).iterator(chunk_size=1))
                 for _ in range(3)]

    assert names == [["Ada", "Bo"]] * 3
