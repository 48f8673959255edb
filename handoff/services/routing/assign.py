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

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Case, Count, DateTimeField, F, IntegerField, Q, Value, When
from django.db.models.functions import JSONObject
from django.utils import timezone

from handoff import businesstime
from handoff.db import bulk_set, insert_from_select, insert_rows, upsert_add
from handoff.models import (
    Handoff,
    HandoffEvent,
    HandoffRouting,
    Milestone,
    MilestoneKind,
    RepProfile,
    RepRouting,
    RepRoutingDay,
    Role,
    RoutingNotice,
    RoutingStatus,
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
        _lock_reps(team_ids)
        pools = routing_pool(team_ids, at)
        team_names = {rep.team_id: rep.team_name for team in pools.values() for rep in team}
        if rules.catch_all_team is not None:
            team_names[rules.catch_all_team_id] = rules.catch_all_team.name
        missing = [pk for pk in team_ids if pk not in team_names]
        if missing:
            team_names.update(Team.objects.filter(pk__in=missing).values_list("pk", "name"))

        chosen: dict[int, RepState] = {}
        decisions: dict[int, dict] = {}
        moved: set[int] = set()
        for handoff in locked:
            prior = before.get(handoff.pk)
            excluded = set(prior.excluded if prior else ()) | set(exclude.get(handoff.pk, ()))
            candidates, skipped = [], {}
            for rep in pools.get(team_of[handoff.pk], ()):
                reason = rep.skip or ("breached" if rep.user_id in excluded else None) or rep.capped
                if reason:
                    skipped[rep.username] = reason
                else:
                    candidates.append(rep)
            decision = {
                "rules": rules.version,
                "territory": territory_of[handoff.pk] or None,
                "team": team_names.get(team_of[handoff.pk]),
                "considered": [rep.username for rep in candidates],
                "skipped": skipped,
            }
            decisions[handoff.pk] = decision
            if not candidates:
                decision["owner"] = None
                continue
            # Smooth weighted round robin: every candidate earns their weight, the richest gets the lead and pays
            # the candidates' total. Exact shares over any whole number of rounds; ties go to the lower user id.
            total = 0
            for rep in candidates:
                rep.credit += rep.weight
                total += rep.weight
                moved.add(rep.user_id)
            rep = max(candidates, key=lambda r: (r.credit, -r.user_id))
            rep.credit -= total
            rep.today += 1
            rep.open += 1
            rep.assigned += 1
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
        _set_owners(by_owner, now)
        logged = routed + newly_waiting
        last_event = HandoffEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        if logged:
            _log(ACTION, [(h, h.state, h.state) for h in logged], actor, at=at,
                 data_by_handoff={h.pk: decisions[h.pk] for h in logged}, returning=False)
        _write_routing(rules, locked, before, chosen, team_of, territory_of, exclude, at)
        _write_counters(pools, moved, Counter((rep.user_id, rep.day) for rep in chosen.values()))
        if routed:
            if rules.first_routed_at is None:
                type(rules).objects.filter(pk=rules.pk, first_routed_at__isnull=True).update(first_routed_at=at)
            _write_back(routed, last_event, actor, now)
            clocks_follow_owner(handoffs=routed, at=at, fresh=fresh_handoffs, calendars={
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


def _lock_reps(team_ids: list[int]) -> None:
    """Lock the routing rows of these teams' reps (made first where missing), in id order: one pass per team at once."""
    rep_ids = sorted(set(
        RepProfile.objects.filter(team_id__in=team_ids, user__groups__name=Role.SALES_REP).values_list(
            "user_id", flat=True
        )
    ))
    if not rep_ids:
        return
    locked = list(
        RepRouting.objects.select_for_update().filter(pk__in=rep_ids).order_by("pk").values_list("pk", flat=True)
    )
    if len(locked) < len(rep_ids):  # a rep without a routing row yet: made (defaults), then locked with the rest
        RepRouting.objects.bulk_create([RepRouting(user_id=pk) for pk in rep_ids], ignore_conflicts=True)
        list(RepRouting.objects.select_for_update().filter(pk__in=rep_ids).order_by("pk").values_list("pk", flat=True))


def _write_routing(rules, locked, before, chosen, team_of, territory_of, exclude, at) -> None:
    """Each handoff's routing row, rewritten (the handoffs are locked: nobody else writes them meanwhile)."""
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
    if before:
        HandoffRouting.objects.filter(handoff_id__any=list(before)).delete()
    insert_rows(HandoffRouting, rows)


def _write_counters(pools: dict[int, list[RepState]], moved: set[int], given: Counter) -> None:
    """The reps' round-robin credit and totals, and the leads each got on their own day ((user id, day) → n)."""
    reps = {rep.user_id: rep for team in pools.values() for rep in team if rep.user_id in moved}
    bulk_set(
        [RepRouting(user_id=rep.user_id, credit=rep.credit, assigned=rep.assigned) for rep in reps.values()],
        ["credit", "assigned"],
    )
    upsert_add(
        RepRoutingDay,
        [{"user_id": user_id, "day": day, "assigned": n} for (user_id, day), n in given.items()],
        key=("user", "day"),
        counts=("assigned",),
    )


def _write_back(routed: list[Handoff], after_event: int, actor: Actor, now: datetime) -> None:
    """The new owner goes to the CRM as OwnerId through the write-back outbox (sent after commit, retried).

    One INSERT … SELECT from this pass's routing events (those after `after_event` of the handoffs routed, which this
    transaction holds locked), for owners with a CRM user id.
    """
    if actor.replay:
        return
    events = HandoffEvent.objects.filter(
        handoff_id__any=[h.pk for h in routed], action=ACTION, pk__gt=after_event,
        handoff__owner__profile__crm_user_id__isnull=False,
    ).exclude(handoff__owner__profile__crm_user_id="").annotate(
        w_lead=F("lead_id"), w_event=F("pk"), w_action=Value(ACTION),
        w_changes=JSONObject(OwnerId=F("handoff__owner__profile__crm_user_id")),
        w_status=Value(WriteBack.Status.PENDING), w_attempts=Value(0), w_next=Value(now), w_code=Value(""),
        w_error=Value(""), w_created=Value(now),
    )
    written = insert_from_select(
        WriteBack,
        events,
        {"lead_id": "w_lead", "event_id": "w_event", "action": "w_action", "changes": "w_changes",
         "status": "w_status", "attempts": "w_attempts", "next_attempt_at": "w_next", "error_code": "w_code",
         "error": "w_error", "created_at": "w_created"},
        unique=["id"],
    )
    if written:
        job_after_commit(WRITEBACK_TASK)


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
) -> None:
    """The SLA clocks of routed leads start at routing, in the new owner's calendar.

    Clocks of the latest round that none of has been met, breached or stopped (a lead straight from qualification or
    from a wait in the queue) start again at `at` with their full windows: set-based, one UPDATE per (calendar,
    round, policy), their due times computed once per window. Otherwise (the escalation gave the lead back after
    a breach) the round's unmet clocks stop and a new round starts for the new owner; an accepted lead's new round
    has no accept clock to run. `calendars`: owner id → (calendar id, calendar) where the caller has them already
    (the routing pass's reps), so they are not read again. `fresh`: the handoffs were qualified in this transaction,
    so their clocks are round 1, just started, none spent or paused: not read to find out.
    """
    ids = [h.pk for h in handoffs]
    # Most clocks routed are round 1, just (re)started, none spent or paused: only the others are read (a later round,
    # a spent or a paused clock), and a handoff not among them is in round 1, fresh. (A handoff without clocks then
    # "restarts" none: the UPDATEs match nothing.)
    latest: dict[int, tuple[int, bool]] = {pk: (1, False) for pk in ids}
    spent_q = Q(met_at__isnull=False) | Q(breached_at__isnull=False) | Q(stopped_at__isnull=False)
    paused_q = Q(paused_at__isnull=False)
    any_paused = False
    seen: set[int] = set()
    for handoff_id, round_, spent, paused in () if fresh else (
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
    fresh: dict[tuple[int, int], list[int]] = defaultdict(list)  # (calendar, round) → handoff ids
    spent = []
    for handoff in handoffs:
        if handoff.pk not in latest:
            continue
        round_, was_spent = latest[handoff.pk]
        if was_spent:
            spent.append(handoff)
        elif cal_ids.get(handoff.owner_id) is not None:
            fresh[(cal_ids[handoff.owner_id], round_)].append(handoff.pk)
    if fresh:
        all_fresh = [pk for group in fresh.values() for pk in group]
        terms = list(
            # order_by(): the model's default ordering would make DISTINCT run over every clock.
            Milestone.objects.filter(handoff_id__any=all_fresh)
            .order_by()
            .values_list("policy_id", "window_seconds", "policy__reminder_share")
            .distinct()
        )
        needed = {cal for cal, _ in fresh}
        cals = {cal: known[cal] for cal in needed if cal in known}
        if len(cals) < len(needed):
            cals.update(calendars_load(needed - set(cals)))
        by_policy: dict[int, list[tuple[int, int]]] = defaultdict(list)  # policy → (window, reminder) seconds
        for policy_id, window, share in terms:
            by_policy[policy_id].append((window, round(window * float(share))))
        for (cal_id, round_), group in fresh.items():
            cal = cals[cal_id]
            for policy_id, windows in sorted(by_policy.items()):
                # One UPDATE for the policy's windows: each clock's times picked by its window (CASE).
                clocks = Milestone.objects.filter(handoff_id__any=group, round=round_, policy_id=policy_id,
                                                  window_seconds__in=[w for w, _ in windows])
                clocks.filter(paused_at__isnull=True).update(
                    started_at=at, calendar_id=cal_id, reminded_at=None,
                    due_at=_by_window([(w, businesstime.add(at, timedelta(seconds=w), cal)) for w, _ in windows],
                                     DateTimeField()),
                    remind_at=_by_window([(w, businesstime.add(at, timedelta(seconds=r), cal)) for w, r in windows],
                                        DateTimeField()),
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


def handoffs_given_by_hand(*, owners: dict[int, int], at: datetime) -> None:
    """Leads a manager gave to reps by hand count toward fairness like routed ones (owner id → how many).

    Each counts as a round the rep won: their team's reps who could take leads earn their weight, the rep pays the
    total; the rep's leads today go up by one.
    """
    teams = dict(RepProfile.objects.filter(user_id__in=list(owners)).values_list("user_id", "team_id"))
    team_ids = sorted({t for t in teams.values() if t is not None})
    if not team_ids:
        return
    _lock_reps(team_ids)
    pools = routing_pool(team_ids, at)
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
    _write_counters(pools, moved, given)


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
