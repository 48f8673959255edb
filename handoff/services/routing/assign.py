"""The routing pass: each lead without an owner to a team by territory, then to a rep of that team, fairly.

Set-based over a batch (a sync page's new MQLs, a marketer's qualification, the queue's retry): the handoffs are
locked (SKIP LOCKED: two passes at once split the work), matched against the territories of the rules in force, the
teams' reps' routing rows locked in id order (a second pass on the same team waits and then reads what the first
wrote), each lead given by a smooth weighted round robin over the reps who can take it now, and everything written
in a handful of statements: owners, one event per handoff (who was considered, who was skipped and why, who got
it), the rules version on the handoff's routing row, the reps' counters, the OwnerId write-back rows and the SLA
clocks restarted in the new owner's calendar. A lead no rep can take waits in its team's queue; its manager is told
once, and the next pass tries again.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Case, Count, DateTimeField, F, IntegerField, Q, Value, When
from django.db.models.functions import JSONObject
from django.utils import timezone

from handoff import businesstime
from handoff.db import bulk_set, execute_prepared, insert_from_select, insert_rows, upsert_add
from handoff.models import (
    Handoff,
    HandoffEvent,
    HandoffRouting,
    Milestone,
    MilestoneKind,
    RepProfile,
    RepRouting,
    RepRoutingDay,
    RoutingNotice,
    RoutingStatus,
    SlaPolicy,
    Team,
    WriteBack,
)
from handoff.models.handoffs import ActorKind, HandoffState
from handoff.rules import FIELDS as RULE_FIELDS
from handoff.segments import parse_segments, segment_for
from handoff.selectors.calendars import calendars_load, owner_calendar_ids
from handoff.selectors.routing import RepState, active_routing_rules, routing_pool
from handoff.selectors.sla import active_policy
from handoff.territories import SEGMENT, parse_territories, territory_for

from ..actors import Actor
from ..handoffs import on_transition
from ..handoffs.machine import _log
from ..jobs import job_after_commit
from ..sla.milestones import milestones_start, milestones_stop

S = HandoffState
K = MilestoneKind

# A lead waiting in a queue is open and not yet worked by anyone who could be skipped: qualified, or accepted and then
# given back by the SLA escalation (its first touch ran out).
ROUTABLE = (S.QUALIFIED, S.ACCEPTED)
ACTION = "route"
BATCH = 10_000  # handoffs per set of statements; a bigger batch goes in chunks, in one transaction
NOTICE_TASK = "handoff.routing_notices_send"
WRITEBACK_TASK = "handoff.writeback_flush"  # services/writeback.py's FLUSH_TASK (not imported: it imports the SLA)
_HANDOFF_FIELDS = ("id", "lead", "state", "owner", "definition")  # what a routing pass reads of a handoff
_LEAD_PREFIX = "routing_lead_"
# Passes of up to this many handoffs write through a statement prepared once per connection (`db.execute_prepared`):
# for a lead routed in a sync page, planning it cost more than running it. A bigger pass is planned for its arrays.
PREPARED_UP_TO = 100


@dataclass
class RouteResult:
    routed: dict[int, int] = field(default_factory=dict)  # handoff id → the rep who got it
    queued: list[int] = field(default_factory=list)  # no rep could take them: they wait in the team queue
    passed_over: int = 0  # locked by another pass, or no longer waiting for an owner


class _WithSegment:
    """A lead as the territories see it: its fields, and its SLA segment."""

    __slots__ = ("_lead", "segment")

    def __init__(self, lead, segment: str):
        self._lead = lead
        self.segment = segment

    def __getattr__(self, name: str):
        return getattr(self._lead, name)


class _LeadFields:
    """The lead fields a routing pass read beside its handoff (annotations `routing_lead_<field>`), as a lead."""

    __slots__ = ("_handoff",)

    def __init__(self, handoff: Handoff):
        self._handoff = handoff

    def __getattr__(self, name: str):
        return getattr(self._handoff, _LEAD_PREFIX + name)


@dataclass
class _Field:
    """A team's reps who can take a lead right now (in user id order), their usernames and total weight, and the
    others with why not (username → reason)."""

    candidates: list[RepState]
    considered: list[str]
    skipped: dict[str, str]
    total: int

    @classmethod
    def of(cls, reps: Iterable[RepState], excluded: set[int]) -> _Field:
        candidates, skipped = [], {}
        for rep in reps:
            reason = rep.skip or ("breached" if rep.user_id in excluded else None) or rep.capped
            if reason:
                skipped[rep.username] = reason
            else:
                candidates.append(rep)
        return cls(candidates, [rep.username for rep in candidates], skipped, sum(rep.weight for rep in candidates))


def handoffs_route(
    *,
    handoff_ids: Iterable[int],
    at: datetime | None = None,
    actor: Actor | None = None,
    exclude: dict[int, Iterable[int]] | None = None,
    handoffs: Sequence[Handoff] = (),
    fresh: bool = False,
) -> RouteResult:
    """Route these handoffs (those still open and without an owner) under the routing rules in force.

    `exclude`: handoff id → reps never to get it again (who breached its SLA). `handoffs`: objects the caller holds,
    whose owner is set to the rep routed (a qualification's listener). `fresh`: `handoffs` were created in this very
    transaction with their leads attached (a qualification), so no other transaction can see, let alone lock, them
    and none has a routing row yet: they are routed as held, without reading them again. No rules in force: nothing
    happens.
    """
    at = at or timezone.now()
    actor = actor or Actor.routing()
    exclude = exclude or {}
    result = RouteResult()
    ids = sorted(set(handoff_ids))
    if not ids:
        return result
    if len(ids) > BATCH:
        # In chunks, in one transaction: each statement's `= ANY(ids)` stays small (PostgreSQL rechecks it per row).
        with transaction.atomic():
            for start in range(0, len(ids), BATCH):
                chunk = set(ids[start : start + BATCH])
                done = handoffs_route(handoff_ids=chunk, at=at, actor=actor, exclude=exclude,
                                      handoffs=[h for h in handoffs if h.pk in chunk], fresh=fresh)
                result.routed.update(done.routed)
                result.queued += done.queued
                result.passed_over += done.passed_over
        return result
    with transaction.atomic():
        rules = active_routing_rules()
        if rules is None:
            return result
        if fresh and {h.pk for h in handoffs} == set(ids) and all(Handoff.lead.is_cached(h) for h in handoffs):
            locked = sorted((h for h in handoffs if h.owner_id is None and h.state in ROUTABLE), key=lambda h: h.pk)
            before = {}
            fresh_handoffs = True
        else:
            # Only what routing reads: the handoff's keys, and the lead fields territories and segments may test as
            # plain columns beside them (no lead models, no timestamps, no raw record: reading 10,000 handoffs with
            # their full leads into models was most of a batch).
            locked = list(
                Handoff.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(pk__any=ids, owner__isnull=True, state__in=ROUTABLE)
                .only(*_HANDOFF_FIELDS)
                .annotate(**{_LEAD_PREFIX + name: F(f"lead__{name}") for name in RULE_FIELDS})
                .order_by("pk")
            )
            before = None
            fresh_handoffs = False
        result.passed_over = len(ids) - len(locked)
        if not locked:
            return result
        if before is None:
            before = {r.handoff_id: r for r in HandoffRouting.objects.filter(handoff_id__any=[h.pk for h in locked])}
        team_of, territory_of = _territories(rules, locked)
        team_ids = sorted(set(team_of.values()))
        pools = _locked_pool(team_ids, at)
        team_names = {rep.team_id: rep.team_name for team in pools.values() for rep in team}
        if rules.catch_all_team is not None:
            team_names[rules.catch_all_team_id] = rules.catch_all_team.name
        missing = [pk for pk in team_ids if pk not in team_names]
        if missing:
            team_names.update(Team.objects.filter(pk__in=missing).values_list("pk", "name"))

        chosen: dict[int, RepState] = {}
        decisions: dict[int, dict] = {}
        moved: set[int] = set()
        # Who can take a team's leads changes during a pass only when a rep reaches a cap: the candidates (and the
        # skips the audit records) are worked out once per team and again after that, not once per lead (a batch of
        # 10,000 spent a fifth of its time there). A lead with reps excluded (they breached it) is worked out alone.
        fields: dict[int, _Field] = {}
        for handoff in locked:
            team_id = team_of[handoff.pk]
            prior = before.get(handoff.pk)
            excluded = set(prior.excluded if prior else ()) | set(exclude.get(handoff.pk, ()))
            field = fields.get(team_id) if not excluded else None
            if field is None:
                field = _Field.of(pools.get(team_id, ()), excluded)
                if not excluded:
                    fields[team_id] = field
                moved.update(rep.user_id for rep in field.candidates)
            decision = {
                "rules": rules.version,
                "territory": territory_of[handoff.pk] or None,
                "team": team_names.get(team_id),
                "considered": field.considered,  # shared between the leads of one field: read, never changed
                "skipped": field.skipped,
            }
            decisions[handoff.pk] = decision
            if not field.candidates:
                decision["owner"] = None
                continue
            # Smooth weighted round robin: every candidate earns their weight, the richest gets the lead and pays
            # the candidates' total. Exact shares over any whole number of rounds; ties go to the lower user id (the
            # candidates are in user id order, so the first of the richest).
            rep = None
            for candidate in field.candidates:
                candidate.credit += candidate.weight
                if rep is None or candidate.credit > rep.credit:
                    rep = candidate
            rep.credit -= field.total
            rep.today += 1
            rep.open += 1
            rep.assigned += 1
            if rep.capped:
                fields.pop(team_id, None)
            chosen[handoff.pk] = rep
            decision["owner"] = rep.username

        routed = [h for h in locked if h.pk in chosen]
        waiting = [h for h in locked if h.pk not in chosen]
        # A lead newly in the queue is logged (and its manager told) once; a retry that changes nothing is not.
        newly_waiting = [h for h in waiting if not _was_waiting(before.get(h.pk))]
        now = timezone.now()
        by_owner: dict[int, list[int]] = defaultdict(list)
        for handoff in routed:
            handoff.owner_id = chosen[handoff.pk].user_id
            handoff.updated_at = now
            by_owner[handoff.owner_id].append(handoff.pk)
        logged = routed + newly_waiting
        # The write-back rows are made from this pass's routing events: those after the latest event now. Handoffs
        # qualified in this transaction have no routing event yet, so for them all of theirs are this pass's.
        last_event = 0 if fresh_handoffs else (
            HandoffEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        )
        if logged:
            _log(ACTION, [(h, h.state, h.state) for h in logged], actor, at=at,
                 data_by_handoff={h.pk: decisions[h.pk] for h in logged}, returning=False)
        routing_rows = _routing_rows(rules, locked, before, chosen, team_of, territory_of, exclude, at)
        counters = _counters(pools, moved)
        days = Counter((rep.user_id, rep.day) for rep in chosen.values())
        first_routing = bool(routed) and rules.first_routed_at is None
        clock_terms = None
        if connection.vendor == "postgresql":
            written, clock_terms = _write_pass_postgresql(
                routed=routed, now=now, routing_rows=routing_rows, counters=counters, days=days, rules=rules, at=at,
                write_back_after=None if actor.replay else last_event, clocks_qualified_here=fresh_handoffs,
            )
        else:
            _set_owners(by_owner, now)
            if before:
                HandoffRouting.objects.filter(handoff_id__any=list(before)).delete()
            insert_rows(HandoffRouting, routing_rows)
            _write_counters(counters, days)
            if first_routing:
                type(rules).objects.filter(pk=rules.pk, first_routed_at__isnull=True).update(first_routed_at=at)
            written = _write_back(routed, last_event, now) if routed and not actor.replay else 0
        if written:
            job_after_commit(WRITEBACK_TASK)
        if routed:
            clocks_follow_owner(handoffs=routed, at=at, fresh=fresh_handoffs, terms=clock_terms, calendars={
                rep.user_id: (rep.calendar_id, rep.calendar) for team in pools.values() for rep in team
            })
        if newly_waiting:
            _tell_managers(newly_waiting, team_of, decisions, now)
        given = {h.pk: h.owner_id for h in routed}
        for handoff in handoffs:
            if handoff.pk in given:
                handoff.owner_id = given[handoff.pk]
        result.routed = given
        result.queued = [h.pk for h in waiting]
    return result


def _set_owners(by_owner: dict[int, list[int]], now: datetime) -> None:
    """Each routed handoff's new owner (owner id → handoff ids), and the time: PostgreSQL in one UPDATE from two
    integer arrays (no per-row values to adapt), elsewhere one UPDATE per owner."""
    if not by_owner:
        return
    if connection.vendor != "postgresql":
        for owner_id, owned in sorted(by_owner.items()):
            Handoff.objects.filter(pk__any=owned).update(owner_id=owner_id, updated_at=now)
        return
    pairs = sorted((pk, owner_id) for owner_id, owned in by_owner.items() for pk in owned)
    table = connection.ops.quote_name(Handoff._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS h SET owner_id = v.owner_id, updated_at = %s "
            "FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, owner_id) WHERE h.id = v.id",
            [now, [pk for pk, _ in pairs], [owner for _, owner in pairs]],
        )


def _was_waiting(prior: HandoffRouting | None) -> bool:
    return prior is not None and prior.status == RoutingStatus.QUEUED


def _territories(rules, handoffs: list[Handoff]) -> tuple[dict[int, int], dict[int, str]]:
    """handoff id → team id, and → the territory's name ("" for the catch-all team)."""
    territories = parse_territories(rules.territories)
    segments = None
    if any(c.field == SEGMENT for t in territories for c in t.conditions):
        policy = active_policy()
        segments = parse_segments(policy.segments) if policy is not None else []
    team_of, territory_of = {}, {}
    for handoff in handoffs:
        lead = handoff.lead if Handoff.lead.is_cached(handoff) else _LeadFields(handoff)
        if segments is not None:
            lead = _WithSegment(lead, segment_for(segments, lead).name if segments else "")
        territory = territory_for(territories, lead)
        team_of[handoff.pk] = territory.team if territory is not None else rules.catch_all_team_id
        territory_of[handoff.pk] = territory.name if territory is not None else ""
    return team_of, territory_of


def _locked_pool(team_ids: list[int], at: datetime) -> dict[int, list[RepState]]:
    """These teams' reps as routing sees them, their routing rows locked in id order: one pass per team at once, and
    a pass that waited for another reads what that one wrote (see `routing_pool`).

    A rep without a routing row yet (never routed) gets one, with the defaults; it is locked with the rest and the
    pool read again.
    """
    pools = routing_pool(team_ids, at, lock=True)
    missing = [rep.user_id for team in pools.values() for rep in team if not rep.has_routing_row]
    if missing:
        RepRouting.objects.bulk_create([RepRouting(user_id=pk) for pk in missing], ignore_conflicts=True)
        pools = routing_pool(team_ids, at, lock=True)
    return pools


def _routing_rows(rules, locked, before, chosen, team_of, territory_of, exclude, at) -> list[dict]:
    """Each handoff's routing row as it is now (the handoffs are locked: nobody else writes them meanwhile)."""
    rows = []
    for handoff in locked:
        prior = before.get(handoff.pk)
        waiting = _was_waiting(prior)
        excluded = sorted(set(prior.excluded if prior else ()) | {int(pk) for pk in exclude.get(handoff.pk, ())})
        rep = chosen.get(handoff.pk)
        rows.append(
            {
                "handoff_id": handoff.pk,
                "rules_id": rules.pk,
                "territory": territory_of[handoff.pk],
                "team_id": team_of[handoff.pk],
                "status": RoutingStatus.ROUTED if rep else RoutingStatus.QUEUED,
                "queued_at": prior.queued_at if waiting else at,
                "routed_at": at if rep else None,
                "routed_to_id": rep.user_id if rep else None,
                "attempts": (prior.attempts if waiting else 0) + 1,
                "excluded": excluded,
                "manager_told_at": (prior.manager_told_at if waiting else None) or (None if rep else at),
            }
        )
    return rows


def _counters(pools: dict[int, list[RepState]], moved: set[int]) -> list[RepState]:
    """The reps whose round-robin credit moved (they were candidates): their credit and total go back."""
    return [rep for team in pools.values() for rep in team if rep.user_id in moved]


def _write_counters(reps: list[RepState], given: Counter) -> None:
    """The reps' round-robin credit and totals, and the leads each got on their own day ((user id, day) → n)."""
    bulk_set(
        [RepRouting(user_id=rep.user_id, credit=rep.credit, assigned=rep.assigned) for rep in reps],
        ["credit", "assigned"],
    )
    upsert_add(
        RepRoutingDay,
        [{"user_id": user_id, "day": day, "assigned": n} for (user_id, day), n in given.items()],
        key=("user", "day"),
        counts=("assigned",),
    )


def _write_back(routed: list[Handoff], after_event: int, now: datetime) -> int:
    """The new owner goes to the CRM as OwnerId through the write-back outbox (sent after commit, retried).

    One INSERT … SELECT from this pass's routing events (those after `after_event` of the handoffs routed, which this
    transaction holds locked), for owners with a CRM user id. Returns how many rows went in.
    """
    events = HandoffEvent.objects.filter(
        handoff_id__any=[h.pk for h in routed], action=ACTION, pk__gt=after_event,
        handoff__owner__profile__crm_user_id__isnull=False,
    ).exclude(handoff__owner__profile__crm_user_id="").annotate(
        w_lead=F("lead_id"), w_event=F("pk"), w_action=Value(ACTION),
        w_changes=JSONObject(OwnerId=F("handoff__owner__profile__crm_user_id")),
        w_status=Value(WriteBack.Status.PENDING), w_attempts=Value(0), w_next=Value(now), w_code=Value(""),
        w_error=Value(""), w_created=Value(now),
    )
    return len(insert_from_select(
        WriteBack,
        events,
        {"lead_id": "w_lead", "event_id": "w_event", "action": "w_action", "changes": "w_changes",
         "status": "w_status", "attempts": "w_attempts", "next_attempt_at": "w_next", "error_code": "w_code",
         "error": "w_error", "created_at": "w_created"},
        unique=["id"],
    ))


def _write_pass_postgresql(*, routed: list[Handoff], now: datetime, routing_rows: list[dict],
                           counters: list[RepState], days: Counter, rules, at: datetime,
                           write_back_after: int | None, clocks_qualified_here: bool) -> tuple[int, list | None]:
    """All a pass writes besides its events and clocks, as one statement of data-modifying CTEs (PostgreSQL).

    Owners (and the time), the routing rows (upserted: a retried lead's row is rewritten), the reps' credit and
    totals, their leads given per day (added, in key order like `db.upsert_add`), the version's first routing
    (`rules`: when this is it) and, unless `write_back_after` is None (a replay), an OwnerId write-back row per
    routing event after that id whose new owner has a CRM user id. One round trip instead of six: they were most of
    what routing one lead in a sync page's transaction cost.

    Values go as one array per column (Django binds parameters client-side, so each element is rendered in Python:
    what SQL can derive is not sent, e.g. a routing row's status and time follow from whether it has an owner). The
    sub-statements share one snapshot, so none sees another's writes: the write-back rows take the new owner from
    the same arrays as the owners' UPDATE, not from the handoff.

    Returns the write-back rows written, and for handoffs qualified in this transaction (`clocks_qualified_here`) the
    terms of the routed handoffs' clocks as they stand (`_clock_terms(as_they_stand=True)`'s rows), read in this same
    round trip for `clocks_follow_owner`; else None.
    """
    quote = connection.ops.quote_name

    def table(model) -> str:
        return quote(model._meta.db_table)

    owners = sorted((h.pk, h.owner_id) for h in routed)
    rows = sorted(routing_rows, key=lambda row: row["handoff_id"])
    given = sorted(days.items())
    sent = {  # the routing rows' columns that vary, and their types
        "handoff_id": "bigint", "territory": "text", "team_id": "bigint", "queued_at": "timestamptz",
        "routed_to_id": "bigint", "attempts": "integer", "excluded": "text", "manager_told_at": "timestamptz",
    }
    params = {
        "now": now, "at": at, "rules": rules.pk, "routed_status": RoutingStatus.ROUTED,
        "queued_status": RoutingStatus.QUEUED,
        "routed": [pk for pk, _ in owners], "owner": [owner for _, owner in owners],
        "rep": [rep.user_id for rep in counters], "credit": [rep.credit for rep in counters],
        "assigned": [rep.assigned for rep in counters],
        "day_rep": [user_id for (user_id, _), _n in given], "day": [day for (_, day), _n in given],
        "day_n": [n for _, n in given],
        **{f"r_{name}": [row[name] for row in rows] for name in sent},
        "r_excluded": [json.dumps(row["excluded"]) if row["excluded"] else "[]" for row in rows],
    }
    values = {name: f"v.{name}" for name in sent} | {
        "rules_id": "%(rules)s::bigint",
        "status": "CASE WHEN v.routed_to_id IS NULL THEN %(queued_status)s::text ELSE %(routed_status)s::text END",
        "routed_at": "CASE WHEN v.routed_to_id IS NULL THEN NULL ELSE %(at)s::timestamptz END",
        "excluded": "v.excluded::jsonb",
    }
    routing_columns = [HandoffRouting._meta.get_field(name.removesuffix("_id")).column for name in values]
    statements = [
        """given_to AS (SELECT * FROM unnest(%(routed)s::bigint[], %(owner)s::bigint[]) AS v(id, owner_id))""",
        f"""owners AS (
            UPDATE {table(Handoff)} h SET owner_id = v.owner_id, updated_at = %(now)s::timestamptz
            FROM given_to v WHERE h.id = v.id)""",
        f"""routing AS (
            INSERT INTO {table(HandoffRouting)} ({", ".join(quote(c) for c in routing_columns)})
            SELECT {", ".join(values.values())}
            FROM unnest({", ".join(f"%(r_{name})s::{t}[]" for name, t in sent.items())}) AS v({", ".join(sent)})
            ON CONFLICT ({quote(HandoffRouting._meta.get_field("handoff").column)}) DO UPDATE SET
            {", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in routing_columns[1:])})""",
        f"""credits AS (
            UPDATE {table(RepRouting)} r SET credit = v.credit, assigned = v.assigned
            FROM unnest(%(rep)s::bigint[], %(credit)s::bigint[], %(assigned)s::integer[])
                 AS v(user_id, credit, assigned)
            WHERE r.user_id = v.user_id)""",
        f"""days AS (
            INSERT INTO {table(RepRoutingDay)} AS d (user_id, day, assigned)
            SELECT * FROM unnest(%(day_rep)s::bigint[], %(day)s::date[], %(day_n)s::integer[])
            ON CONFLICT (user_id, day) DO UPDATE SET assigned = d.assigned + excluded.assigned)""",
    ]
    if rules.first_routed_at is None and owners:
        statements.append(
            f"""first_routing AS (
            UPDATE {table(type(rules))} SET first_routed_at = %(at)s
            WHERE id = %(rules)s::bigint AND first_routed_at IS NULL)"""
        )
    result = "SELECT 0"
    if write_back_after is not None and owners:
        params |= {"after": write_back_after, "action": ACTION, "pending": WriteBack.Status.PENDING}
        # This pass's events are those after `write_back_after` (read by the events' key) of the handoffs routed (the
        # join). With no such bound (handoffs qualified in this transaction), they are found by handoff.
        by_handoff = "AND e.handoff_id = ANY(%(routed)s::bigint[])"
        statements.append(
            f"""write_back AS (
            INSERT INTO {table(WriteBack)} (lead_id, event_id, action, changes, status, attempts, next_attempt_at,
                                            error_code, error, created_at)
            SELECT e.lead_id, e.id, %(action)s::text, jsonb_build_object('OwnerId', p.crm_user_id),
                   %(pending)s::text, 0, %(now)s::timestamptz, '', '', %(now)s::timestamptz
            FROM {table(HandoffEvent)} e
            JOIN given_to v ON v.id = e.handoff_id
            JOIN {table(RepProfile)} p ON p.user_id = v.owner_id
            WHERE e.id > %(after)s::bigint AND e.action = %(action)s::text {"" if write_back_after else by_handoff}
              AND p.crm_user_id IS NOT NULL AND p.crm_user_id <> ''
            ORDER BY e.id
            RETURNING 1)"""
        )
        result = "SELECT count(*) FROM write_back"
    terms = "NULL"
    if clocks_qualified_here and owners:
        terms = f"""(SELECT jsonb_agg(DISTINCT jsonb_build_array(m.policy_id, m.window_seconds, s.reminder_share,
                                                       m.calendar_id, m.started_at, m.due_at, m.remind_at))
                     FROM {table(Milestone)} m JOIN {table(SlaPolicy)} s ON s.id = m.policy_id
                     WHERE m.handoff_id = ANY(%(routed)s::bigint[]))"""
    sql = "WITH " + ",\n".join(statements) + f"\nSELECT ({result}), {terms}"
    with connection.cursor() as cursor:
        if len(rows) <= PREPARED_UP_TO:
            execute_prepared(cursor, sql, params)
        else:
            cursor.execute(sql, params)
        written, clock_terms = cursor.fetchone()
    if terms == "NULL":
        return written, None
    return written, [
        (policy_id, window, share, calendar_id, datetime.fromisoformat(started), datetime.fromisoformat(due),
         datetime.fromisoformat(remind))
        for policy_id, window, share, calendar_id, started, due, remind in (
            json.loads(clock_terms) if isinstance(clock_terms, str) else clock_terms or ()
        )
    ]


def _tell_managers(waiting: list[Handoff], team_of: dict[int, int], decisions: dict[int, dict], now: datetime) -> None:
    """One notice per team for the leads that just came to wait in its queue: its manager is told once per lead."""
    by_team: dict[int, list[int]] = defaultdict(list)
    reasons: dict[int, dict[str, str]] = defaultdict(dict)
    for handoff in waiting:
        by_team[team_of[handoff.pk]].append(handoff.pk)
        reasons[team_of[handoff.pk]].update(decisions[handoff.pk]["skipped"])
    RoutingNotice.objects.bulk_create(
        RoutingNotice(team_id=team_id, handoff_ids=ids, reasons=reasons[team_id], created_at=now, next_attempt_at=now)
        for team_id, ids in by_team.items()
    )
    job_after_commit(NOTICE_TASK)


def _by_window(values: list[tuple[int, object]], output_field) -> Case:
    """A clock's value by its window: [(window seconds, value)] as one CASE."""
    return Case(*(When(window_seconds=w, then=Value(v)) for w, v in values), output_field=output_field)


def clocks_follow_owner(
    *,
    handoffs: Sequence[Handoff],
    at: datetime,
    calendars: dict[int, tuple[int | None, object]] | None = None,
    fresh: bool = False,
    terms: list[tuple] | None = None,
) -> None:
    """The SLA clocks of routed leads start at routing, in the new owner's calendar.

    Clocks of the latest round that none of has been met, breached or stopped (a lead straight from qualification or
    from a wait in the queue) start again at `at` with their full windows: set-based, one UPDATE per (calendar,
    round) on PostgreSQL (per policy too elsewhere), their due times computed once per window; none when they hold
    those times already (qualified in this transaction, and the owner keeps the queue's calendar). Otherwise (the
    escalation gave the lead back after a breach) the round's unmet clocks stop and a new round starts for the new
    owner; an accepted lead's new round has no accept clock to run. `calendars`: owner id → (calendar id, calendar)
    where the caller has them already (the routing pass's reps), so they are not read again. `fresh`: the handoffs
    were qualified in this transaction, so their clocks are round 1, just started, none spent or paused: not read to
    find out. `terms`: with `fresh`, their clocks' terms as they stand, already read by the caller
    (`_clock_terms(as_they_stand=True)`'s rows).
    """
    ids = [h.pk for h in handoffs]
    qualified_here = fresh
    # Most clocks routed are round 1, just (re)started, none spent or paused: only the others are read (a later round,
    # a spent or a paused clock), and a handoff not among them is in round 1, fresh. (A handoff without clocks then
    # "restarts" none: the UPDATEs match nothing.)
    latest: dict[int, tuple[int, bool]] = {pk: (1, False) for pk in ids}
    spent_q = Q(met_at__isnull=False) | Q(breached_at__isnull=False) | Q(stopped_at__isnull=False)
    paused_q = Q(paused_at__isnull=False)
    any_paused = False
    seen: set[int] = set()
    for handoff_id, round_, spent, paused in () if qualified_here else (
        Milestone.objects.filter(handoff_id__any=ids)
        .filter(Q(round__gt=1) | spent_q | paused_q)
        .values("handoff_id", "round")
        .annotate(spent=Count("pk", filter=spent_q), paused=Count("pk", filter=paused_q))
        .values_list("handoff_id", "round", "spent", "paused")
    ):
        any_paused = any_paused or bool(paused)
        if handoff_id not in seen or round_ > latest[handoff_id][0]:
            latest[handoff_id] = (round_, bool(spent))
            seen.add(handoff_id)
    owners = {h.owner_id for h in handoffs}
    if calendars is not None and owners <= set(calendars):
        cal_ids = {owner: calendars[owner][0] for owner in owners}
        known = {cal_id: cal for cal_id, cal in calendars.values() if cal_id is not None}
    else:
        cal_ids, known = owner_calendar_ids(owners), {}
    restart: dict[tuple[int, int], list[int]] = defaultdict(list)  # (calendar, round) → handoff ids
    spent = []
    for handoff in handoffs:
        if handoff.pk not in latest:
            continue
        round_, was_spent = latest[handoff.pk]
        if was_spent:
            spent.append(handoff)
        elif cal_ids.get(handoff.owner_id) is not None:
            restart[(cal_ids[handoff.owner_id], round_)].append(handoff.pk)
    if restart:
        all_restarted = [pk for group in restart.values() for pk in group]
        if terms is None or not qualified_here:
            terms = _clock_terms(all_restarted, as_they_stand=qualified_here)
        needed = {cal for cal, _ in restart}
        cals = {cal: known[cal] for cal in needed if cal in known}
        if len(cals) < len(needed):
            cals.update(calendars_load(needed - set(cals)))
        by_policy: dict[int, list[tuple[int, int]]] = defaultdict(list)  # policy → (window, reminder) seconds
        for policy_id, window, share, *_ in terms:
            by_policy[policy_id].append((window, round(window * float(share))))
        for (cal_id, round_), group in restart.items():
            cal = cals[cal_id]
            # Each window's due and reminder times, computed once for the calendar.
            times = {
                (policy_id, w): (businesstime.add(at, timedelta(seconds=w), cal),
                                 businesstime.add(at, timedelta(seconds=r), cal))
                for policy_id, windows in by_policy.items() for w, r in windows
            }
            if qualified_here and len(restart) == 1 and all(
                (calendar_id, started_at, due_at, remind_at) == (cal_id, at, *times[policy_id, window])
                for policy_id, window, _share, calendar_id, started_at, due_at, remind_at in terms
            ):
                # Started in this transaction at `at` in this very calendar (the new owner keeps the queue's): every
                # clock already holds what restarting it would write.
                continue
            running_restarted = connection.vendor == "postgresql"
            if running_restarted:
                _restart_clocks_postgresql(group, round_, cal_id, at, times)
                if not any_paused:
                    continue
            for policy_id, windows in sorted(by_policy.items()):
                clocks = Milestone.objects.filter(handoff_id__any=group, round=round_, policy_id=policy_id,
                                                  window_seconds__in=[w for w, _ in windows])
                if not running_restarted:
                    # One UPDATE for the policy's windows: each clock's times picked by its window (CASE).
                    clocks.filter(paused_at__isnull=True).update(
                        started_at=at, calendar_id=cal_id, reminded_at=None,
                        due_at=_by_window([(w, times[policy_id, w][0]) for w, _ in windows], DateTimeField()),
                        remind_at=_by_window([(w, times[policy_id, w][1]) for w, _ in windows], DateTimeField()),
                    )
                if any_paused:
                    clocks.filter(paused_at__isnull=False).update(
                        started_at=at, calendar_id=cal_id, reminded_at=None,
                        remaining_seconds=_by_window([(w, w) for w, _ in windows], IntegerField()),
                        remind_remaining_seconds=_by_window(windows, IntegerField()),
                    )
    if spent:
        if not all(Handoff.lead.is_cached(h) for h in spent):
            # A new round is timed by the lead's segment: these few (given back after a breach) are read whole.
            whole = Handoff.objects.select_related("lead").defer("lead__raw").in_bulk([h.pk for h in spent])
            spent = [whole[h.pk] for h in spent]
        milestones_stop(handoff_ids=[h.pk for h in spent], at=at)
        milestones_start(handoffs=spent, at=at)
        accepted = [h.pk for h in spent if h.state == S.ACCEPTED]
        if accepted:
            Milestone.objects.filter(
                handoff_id__any=accepted, kind=K.ACCEPT, met_at__isnull=True, stopped_at__isnull=True
            ).update(stopped_at=at)


def _clock_terms(handoff_ids: list[int], *, as_they_stand: bool = False) -> list[tuple]:
    """The (policy, window seconds, reminder share) of these handoffs' clocks, each once; `as_they_stand`: with the
    calendar, start, due and reminder times each clock has now (each distinct set once)."""
    if connection.vendor != "postgresql":
        return list(
            # order_by(): the model's default ordering would make DISTINCT run over every clock.
            Milestone.objects.filter(handoff_id__any=handoff_ids)
            .order_by()
            .values_list("policy_id", "window_seconds", "policy__reminder_share",
                         *(("calendar_id", "started_at", "due_at", "remind_at") if as_they_stand else ()))
            .distinct()
        )
    # Written out: on a lead routed inside a sync page, building the ORM query cost more than running it.
    quote = connection.ops.quote_name
    now = ", m.calendar_id, m.started_at, m.due_at, m.remind_at" if as_they_stand else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT m.policy_id, m.window_seconds, s.reminder_share{now} "
            f"FROM {quote(Milestone._meta.db_table)} m JOIN {quote(SlaPolicy._meta.db_table)} s ON s.id = m.policy_id "
            "WHERE m.handoff_id = ANY(%s::bigint[])",
            [handoff_ids],
        )
        return cursor.fetchall()


def _restart_clocks_postgresql(handoff_ids: list[int], round_: int, calendar_id: int, at: datetime,
                               times: dict[tuple[int, int], tuple[datetime, datetime]]) -> None:
    """The running (not paused) clocks of this round of these handoffs start at `at` in this calendar: one UPDATE for
    every policy and window, each clock's due and reminder times joined from arrays by (policy, window)."""
    keys = sorted(times)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {connection.ops.quote_name(Milestone._meta.db_table)} m
                SET started_at = %s, calendar_id = %s, reminded_at = NULL, due_at = v.due_at, remind_at = v.remind_at
                FROM unnest(%s::bigint[], %s::integer[], %s::timestamptz[], %s::timestamptz[])
                     AS v(policy_id, window_seconds, due_at, remind_at)
                WHERE m.handoff_id = ANY(%s::bigint[]) AND m.round = %s AND m.paused_at IS NULL
                  AND m.policy_id = v.policy_id AND m.window_seconds = v.window_seconds""",
            [at, calendar_id, [p for p, _ in keys], [w for _, w in keys], [times[k][0] for k in keys],
             [times[k][1] for k in keys], handoff_ids, round_],
        )


def handoffs_given_by_hand(*, owners: dict[int, int], at: datetime) -> None:
    """Leads a manager gave to reps by hand count toward fairness like routed ones (owner id → how many).

    Each counts as a round the rep won: their team's reps who could take leads earn their weight, the rep pays the
    total; the rep's leads today go up by one.
    """
    teams = dict(RepProfile.objects.filter(user_id__in=list(owners)).values_list("user_id", "team_id"))
    team_ids = sorted({t for t in teams.values() if t is not None})
    if not team_ids:
        return
    pools = _locked_pool(team_ids, at)
    moved: set[int] = set()
    given: Counter = Counter()
    for owner_id, n in sorted(owners.items()):
        team = pools.get(teams.get(owner_id), [])
        rep = next((r for r in team if r.user_id == owner_id), None)
        if rep is None:
            continue
        earning = [r for r in team if r.status == "active" or r is rep]
        for _ in range(n):
            total = 0
            for r in earning:
                r.credit += r.weight
                total += r.weight
                moved.add(r.user_id)
            rep.credit -= total
            rep.assigned += 1
        given[(rep.user_id, rep.day)] += n
    _write_counters(_counters(pools, moved), given)


@on_transition
def routing_on_transition(*, action: str, handoffs: list[Handoff], events, actor: Actor) -> None:
    """A handoff that starts without an owner is routed at once; a lead given to a rep otherwise leaves the queue."""
    if not handoffs:
        return
    if action == "qualify":
        waiting = [h for h in handoffs if h.owner_id is None]
        if waiting:
            routing_actor = Actor.routing().replaying() if actor.replay else Actor.routing()
            handoffs_route(handoff_ids=[h.pk for h in waiting], at=events[0].at, actor=routing_actor, handoffs=waiting,
                           fresh=True)
    elif action == "reassign":
        owned = [h for h in handoffs if h.owner_id is not None]
        if not owned:
            return
        HandoffRouting.objects.filter(handoff_id__any=[h.pk for h in owned], status=RoutingStatus.QUEUED).update(
            status=RoutingStatus.TAKEN
        )
        if actor.kind == ActorKind.USER:
            handoffs_given_by_hand(owners=dict(Counter(h.owner_id for h in owned)), at=events[0].at)
