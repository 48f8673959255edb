"""HandoffSerializer's list rows built by PostgreSQL: each row of the page arrives as one JSON text.

Why: a page of 50 handoffs holds about 1,300 values, 700 of them instants. Read as Python values (psycopg parses
each timestamp into a datetime, DRF formats it back into text) and assembled into nested dicts field by field, the
page cost three times the work of a raw `.values()` list of the same rows. Here PostgreSQL writes each row's JSON,
nested lead, people, definition, reasons and clocks included, in the statement that reads the page's rows by id
(correlated lookups by primary key, so the planner's join search stays small), with instants already in DRF's
format; Python parses the text (C code) and adds only what depends on the reader: the actions they may take.

Used only where its output is DRF's byte for byte: on PostgreSQL, with the active zone UTC (the database hands
instants back in UTC and formats them there). Anywhere else the rows come from `serializers.handoff_rows`; the
tests hold both to HandoffSerializer's output, field for field and in its field order.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils import timezone

from handoff.db import MergedQuerySet, execute_prepared
from handoff.models import Handoff, Lead, LeadDefinition, Milestone, ReasonCode, SlaPolicy
from handoff.services.handoffs import actions_reader

from .serializers import HANDOFF_INSTANTS

_CLOCK_INSTANTS = ("started_at", "due_at", "remind_at", "met_at", "breached_at", "stopped_at", "paused_at")


def available() -> bool:
    """Whether PostgreSQL can write the rows as DRF would: on PostgreSQL, with the active zone UTC."""
    if connection.vendor != "postgresql" or not settings.USE_TZ:
        return False
    return str(timezone.get_current_timezone()) in ("UTC", "Etc/UTC")


def _instant(column: str) -> str:
    """DRF's DateTimeField output in UTC as SQL: ISO 8601 with "Z", the fraction only when there is one (as Python's
    isoformat). NULL stays NULL. (One to_char and a replace: testing for a whole second first cost a third more.)"""
    return f"""replace(to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), '.000000Z', 'Z')"""


def _object(pairs: Iterable[tuple[str, str]]) -> str:
    """json_build_object (json, not jsonb: it keeps the serializer's field order) of (key, SQL) pairs."""
    return "json_build_object(" + ", ".join(f"'{key}', {sql}" for key, sql in pairs) + ")"


def _person(user_id: str) -> str:
    """UserSummarySerializer's shape of the user `user_id` names, or NULL."""
    user = connection.ops.quote_name(get_user_model()._meta.db_table)
    # The name as UserSummarySerializer.get_name: "first last", stripped, else the username.
    name = "COALESCE(NULLIF(btrim(u.first_name || ' ' || u.last_name, E' \\t\\n\\r\\f\\x0b'), ''), u.username)"
    person = _object([("id", "u.id"), ("username", "u.username"), ("name", name)])
    return f"(SELECT {person} FROM {user} u WHERE u.id = {user_id})"


def _reason(reason_id: str) -> str:
    table = connection.ops.quote_name(ReasonCode._meta.db_table)
    return f"(SELECT {_object([('code', 'r.code'), ('label', 'r.label')])} FROM {table} r WHERE r.id = {reason_id})"


def _row_sql() -> str:
    """The SQL of one handoff's row (the outer table by its name), as JSON text without `actions`."""
    q = connection.ops.quote_name
    h = q(Handoff._meta.db_table)
    lead = _object(
        [
            ("id", "l.id"),
            ("crm_id", "l.crm_id"),
            # LeadSummarySerializer's name: first and last, each only if not blank, joined by a space.
            ("name", "concat_ws(' ', NULLIF(l.first_name, ''), NULLIF(l.last_name, ''))"),
            ("email", "l.email"),
            ("company", "l.company"),
            ("country", "l.country"),
            ("lead_source", "l.lead_source"),
            ("status", "l.status"),
            ("score", "l.score"),
        ]
    )
    definition = _object([("id", "d.id"), ("version", "d.version"), ("name", "d.name")])
    clock = _object(
        [
            ("kind", "m.kind"),
            ("round", "m.round"),
            ("segment", "m.segment"),
            ("policy_version", "p.version"),
            *((name, _instant(f"m.{name}")) for name in _CLOCK_INSTANTS),
            ("business_seconds_taken", "m.business_seconds_taken"),
            ("attempts", "m.attempts"),
            ("attempts_required", "m.attempts_required"),
            # A late meet is a breach too (Milestone.is_breach).
            ("is_breach", "(m.breached_at IS NOT NULL OR COALESCE(m.met_at > m.due_at, false))"),
        ]
    )
    clocks = (
        f"COALESCE((SELECT json_agg({clock} ORDER BY m.round, m.due_at, m.id) FROM {q(Milestone._meta.db_table)} m "
        f"JOIN {q(SlaPolicy._meta.db_table)} p ON p.id = m.policy_id WHERE m.handoff_id = {h}.id), '[]'::json)"
    )
    row = _object(
        [
            ("id", f"{h}.id"),
            ("lead", f"(SELECT {lead} FROM {q(Lead._meta.db_table)} l WHERE l.id = {h}.lead_id)"),
            ("sequence", f"{h}.sequence"),
            ("state", f"{h}.state"),
            ("owner", _person(f"{h}.owner_id")),
            (
                "definition",
                f"(SELECT {definition} FROM {q(LeadDefinition._meta.db_table)} d WHERE d.id = {h}.definition_id)",
            ),
            ("qualified_by_kind", f"{h}.qualified_by_kind"),
            ("qualified_by", _person(f"{h}.qualified_by_id")),
            ("reason", _reason(f"{h}.reason_id")),
            ("note", f"{h}.note"),
            ("dispute_reason", _reason(f"{h}.dispute_reason_id")),
            ("dispute_note", f"{h}.dispute_note"),
            *((name, _instant(f"{h}.{name}")) for name in HANDOFF_INSTANTS),
            ("milestones", clocks),
        ]
    )
    return f"({row})::text"


@functools.cache
def _rows_by_id_sql() -> str:
    """The page's rows by their ids, for `page_rows`, with what the actions depend on (state, owner, the owner's team
    kept on the handoff: migration 0022): the same text on every request, so prepared once per connection."""
    h = connection.ops.quote_name(Handoff._meta.db_table)
    return (
        f"SELECT {h}.id, {h}.state, {h}.owner_id, {h}.owner_team_id, {_row_sql()} FROM {h} "
        f"WHERE {h}.id = ANY(%(ids)s::bigint[])"
    )


def page_positions(parts: Sequence[QuerySet[Handoff]]) -> QuerySet | MergedQuerySet:
    """The handoffs as the cursor pages them: their position (handed_at, id) alone, so that finding the page reads
    no more than the indexes that serve the list's filters and order (`page_rows` then reads the page's rows).
    `parts`: the handoffs whole, or as disjoint parts (selectors `handoffs_visible_in_parts`) merged in one
    statement, each read from its own index."""
    positions = [part.values("id", "handed_at") for part in parts]
    return positions[0] if len(positions) == 1 else MergedQuerySet(positions)


def page_rows(page: Iterable[dict]) -> list[dict]:
    """The rows of a page of `page_positions()`, in its order, as `rows()` takes them, read by their ids in one
    statement prepared once per connection (`db.execute_prepared`).

    One statement that found the page and wrote its rows was planned on every request: its eight lookups per row
    made the planning as long as finding the page (0.3–0.5 ms), and a page found through a filter (`?breached=true`)
    fetched the whole row of every handoff it passed over. Now the page is found by a narrow statement, and its rows
    are written by one whose plan (a primary key probe per id) PostgreSQL keeps. A handoff deleted in between is
    left out, as it would be had it gone a moment earlier."""
    ids = [position["id"] for position in page]
    if not ids:
        return []
    with connection.cursor() as cursor:
        execute_prepared(cursor, _rows_by_id_sql(), {"ids": ids}, generic_plan=False)
        found = {
            pk: {"id": pk, "state": state, "owner_id": owner_id, "owner_team": owner_team, "row": row}
            for pk, state, owner_id, owner_team, row in cursor.fetchall()
        }
    return [found[pk] for pk in ids if pk in found]


def texts(page: Iterable[dict], *, actor) -> list[str]:
    """Each row of `page_rows()` as HandoffSerializer's JSON text, the actions those of `actor` (spliced in last,
    where the serializer has them)."""
    actions = actions_reader(actor)
    return [
        f'{r["row"][:-1]}, "actions" : {json.dumps(actions(r["state"], r["owner_id"], r["owner_team"]))}}}'
        for r in page
    ]


def rows(page: Iterable[dict], *, actor) -> list[dict]:
    """HandoffSerializer's output for rows of `page_rows()`, the actions those of `actor`, as Python data."""
    return [json.loads(text) for text in texts(page, actor=actor)]


def page_response(paginator, page: Iterable[dict], *, actor) -> HttpResponse:
    """The paginated list as DRF's JSON renderer would send it, the rows' text as PostgreSQL wrote it: parsing it and
    encoding it again was a fifth of the request."""
    links = json.dumps({"next": paginator.get_next_link(), "previous": paginator.get_previous_link()})
    body = f'{links[:-1]}, "results": [{", ".join(texts(page, actor=actor))}]}}'
    return HttpResponse(body.encode(), content_type="application/json")
