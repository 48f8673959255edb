"""On PostgreSQL the routing pass's two hot statements (the pool read with the reps' locks, the writes) are prepared
once per connection and run on a generic plan, still through Django's cursor (and so its query log)."""
from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from handoff.db import execute_prepared

from .conftest import qualify, queue_leads

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        "postgresql" not in settings.DATABASES["default"]["ENGINE"],
        reason="prepared statements are PostgreSQL's path (SQLite keeps the ORM's)",
    ),
]


def _plans() -> dict[str, tuple[int, int, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, generic_plans, custom_plans, statement FROM pg_prepared_statements")
        return {name: (generic, custom, statement) for name, generic, custom, statement in cursor.fetchall()}


def test_a_statement_is_prepared_once_and_its_values_bound_each_run(db):
    sql = "SELECT %(a)s::integer + %(b)s::integer, %(a)s::integer %% 3, %(word)s::text"
    results = []
    with connection.cursor() as cursor:
        for a, b, word in [(7, 1, "one"), (10, 2, "two"), (11, 0, "it's")]:
            execute_prepared(cursor, sql, {"a": a, "b": b, "word": word})
            results.append(cursor.fetchone())
    assert results == [(8, 1, "one"), (12, 1, "two"), (11, 2, "it's")]
    (generic, custom, statement), = [plan for plan in _plans().values() if "%(a)s" not in plan[2]
                                     and "$1::integer + $2::integer" in plan[2]]
    assert (generic, custom) == (3, 0)
    assert "$1::integer % 3" in statement


def test_a_positional_placeholder_is_refused(db):
    with connection.cursor() as cursor, pytest.raises(ValueError, match="named placeholders"):
        execute_prepared(cursor, "SELECT %s::integer", {"a": 1})


def test_routing_leads_one_by_one_reuses_the_pool_and_write_statements(org):
    lead_ids = queue_leads(5)
    # Prepares them on this connection, if not already: the version's first routing writes its date too (a statement
    # of its own), the next ones not.
    qualify(lead_ids[:1])
    qualify(lead_ids[1:2])
    before = _plans()
    with CaptureQueriesContext(connection) as queries:
        handoffs = [h for lead_id in lead_ids[2:] for h in qualify([lead_id])]
    assert all(h.owner_id is not None for h in handoffs)
    after = _plans()
    ran = {name: after[name][0] - before.get(name, (0, 0, ""))[0] for name in after}
    pool = [name for name in after if "FOR UPDATE OF lr" in after[name][2]]
    writes = [name for name in after if "INSERT INTO" in after[name][2] and "given_to" in after[name][2]]
    assert pool and writes
    assert sum(ran[name] for name in pool) == 3  # one pool read per lead, each on the generic plan
    assert sum(ran[name] for name in writes) == 3
    assert all(after[name][1] == 0 for name in pool + writes)  # never planned for the values
    # Django's query log still sees each run.
    executed = [q["sql"] for q in queries.captured_queries if "EXECUTE handoff_" in q["sql"]]
    assert len(executed) == 6
    assert not [q for q in queries.captured_queries if q["sql"].startswith("PREPARE")]
