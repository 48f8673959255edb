"""The rules of engagement as a state machine: the only code that changes `Handoff.state`.

Every action works on a batch of handoffs (a batch of one from a button, hundreds from a bulk reject or a
sync page): rows are locked, every rule is checked before anything is written, the change is one set-based
update plus one event row per handoff, and follow-up work (SLA clocks, CRM write-back) is recorded in the
same transaction. Nothing is written when any handoff of the batch breaks a rule.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from handoff import businesstime
from handoff.exceptions import InvalidInput, NotAllowed, WrongState
from handoff.models import Handoff, HandoffEvent, HandoffState, Lead, LeadDefinition, ReasonCode, Role, Touch
from handoff.models.handoffs import OPEN_STATES, ActorKind
from handoff.selectors.calendars import owner_calendar
from handoff.selectors.people import user_has_role

from .actors import Actor

S = HandoffState
MAX_BATCH = 1000


class Party(StrEnum):
    """How an actor relates to one handoff; the rules grant actions to parties, not to users."""

    MARKETER = "marketer"
    OWNER = "owner"
    TEAM_MANAGER = "team_manager"
    RULE = "rule"
    SYNC = "sync"
    SYSTEM = "system"


PARTY_TEXT = {
    Party.MARKETER: "a marketer",
    Party.OWNER: "the rep the lead was handed to",
    Party.TEAM_MANAGER: "that rep's manager",
    Party.RULE: "the lead definition rule",
    Party.SYNC: "the CRM sync",
    Party.SYSTEM: "the SLA escalation",
}


@dataclass(frozen=True)
class Rule:
    sources: frozenset[str]
    parties: frozenset[Party]


def _rule(sources: Iterable[str], *parties: Party) -> Rule:
    return Rule(frozenset(sources), frozenset(parties))


class Action(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    TOUCH = "touch"
    CONVERT = "convert"
    DISPUTE = "dispute"
    RESOLVE = "resolve"
    RECYCLE = "recycle"
    CLOSE = "close"
    REASSIGN = "reassign"
    PAUSE = "pause"
    RESUME = "resume"


# Actions on the handoff's SLA milestones, not on the lead: kept in the audit log and the rules like the others, but
# not offered among a handoff's `actions` (they are the SLA's, not the rules of engagement's).
MILESTONE_ACTIONS = frozenset({Action.PAUSE, Action.RESUME})


P = Party
# Who may do what, from which states. Qualification is not here: it creates a handoff (see handoffs_qualify).
RULES: dict[Action, tuple[Rule, ...]] = {
    Action.ACCEPT: (_rule([S.QUALIFIED], P.OWNER, P.TEAM_MANAGER),),
    Action.REJECT: (_rule([S.QUALIFIED], P.OWNER, P.TEAM_MANAGER),),
    Action.TOUCH: (_rule([S.ACCEPTED], P.OWNER, P.TEAM_MANAGER),),
    Action.CONVERT: (_rule([S.ACCEPTED], P.OWNER, P.TEAM_MANAGER), _rule(OPEN_STATES, P.SYNC)),
    Action.DISPUTE: (_rule([S.REJECTED], P.MARKETER),),
    Action.RESOLVE: (_rule([S.DISPUTED], P.TEAM_MANAGER),),
    Action.RECYCLE: (
        _rule([S.REJECTED], P.MARKETER, P.OWNER, P.TEAM_MANAGER),
        _rule([S.ACCEPTED], P.OWNER, P.TEAM_MANAGER),
        _rule([S.QUALIFIED, S.ACCEPTED], P.SYSTEM),
    ),
    Action.CLOSE: (_rule(OPEN_STATES, P.SYNC),),
    Action.REASSIGN: (_rule(OPEN_STATES, P.SYNC, P.SYSTEM, P.TEAM_MANAGER),),
    Action.PAUSE: (_rule(OPEN_STATES, P.OWNER, P.TEAM_MANAGER, P.SYSTEM),),
    Action.RESUME: (_rule(OPEN_STATES, P.OWNER, P.TEAM_MANAGER, P.SYSTEM),),
}

# The state each action leads to; None keeps the state (touch, reassign); resolve depends on the decision.
TARGET: dict[Action, str | None] = {
    Action.ACCEPT: S.ACCEPTED,
    Action.REJECT: S.REJECTED,
    Action.TOUCH: None,
    Action.CONVERT: S.CONVERTED,
    Action.DISPUTE: S.DISPUTED,
    Action.RECYCLE: S.RECYCLED,
    Action.CLOSE: S.CLOSED,
    Action.REASSIGN: None,
    Action.PAUSE: None,
    Action.RESUME: None,
}
REASON_KIND = {
    Action.REJECT: ReasonCode.Kind.REJECT,
    Action.RECYCLE: ReasonCode.Kind.RECYCLE,
    Action.DISPUTE: ReasonCode.Kind.DISPUTE,
}


class Decision(StrEnum):
    UPHOLD = "uphold"
    OVERTURN = "overturn"


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------
def parties(actor: Actor, handoff: Handoff) -> set[Party]:
    """The parties the actor is to this handoff (a person may be several: a manager who also markets)."""
    if actor.kind != ActorKind.USER:
        return {Party(actor.kind)}
    found: set[Party] = set()
    if actor.has_role(Role.MARKETER):
        found.add(Party.MARKETER)
    if actor.has_role(Role.SALES_REP) and handoff.owner_id is not None and handoff.owner_id == actor.user_id:
        found.add(Party.OWNER)
    if actor.has_role(Role.MANAGER):
        # A queue-held handoff belongs to no team yet: any manager may pick it up.
        team_id = _owner_team_id(handoff)
        if handoff.owner_id is None or (team_id is not None and team_id in actor.managed_team_ids):
            found.add(Party.TEAM_MANAGER)
    return found


def _owner_team_id(handoff: Handoff) -> int | None:
    owner = handoff.owner
    profile = getattr(owner, "profile", None) if owner is not None else None
    return profile.team_id if profile is not None else None


def allowed_actions(actor: Actor, handoff: Handoff) -> list[Action]:
    """The actions this actor may take on this handoff now (for buttons and the API's `actions`)."""
    mine = parties(actor, handoff)
    return [
        action
        for action, rules in RULES.items()
        if action not in MILESTONE_ACTIONS and any(handoff.state in r.sources and r.parties & mine for r in rules)
    ]


def check(action: Action, actor: Actor, handoff: Handoff) -> None:
    """Raise NotAllowed (role) or WrongState (state) unless the actor may take the action now."""
    rules = RULES[action]
    mine = parties(actor, handoff)
    usable = [r for r in rules if r.parties & mine]
    if not usable:
        who = sorted({PARTY_TEXT[p] for r in rules for p in r.parties})
        raise NotAllowed(
            f"You may not {action} lead {handoff.lead}: only {' or '.join(who)} can.",
            code="forbidden_role",
        )
    if not any(handoff.state in r.sources for r in usable):
        states = sorted({S(s).label.lower() for r in usable for s in r.sources})
        raise WrongState(
            f"Cannot {action} lead {handoff.lead}: its handoff is {handoff.get_state_display().lower()}; "
            f"{action} applies only when it is {' or '.join(states)}.",
            code="wrong_state",
        )


def _reason(action: Action, reason: ReasonCode | str | None, note: str) -> ReasonCode:
    kind = REASON_KIND[action]
    if reason is None or reason == "":
        raise InvalidInput(f"A reason is required to {action} a lead.", field="reason")
    if isinstance(reason, ReasonCode):
        code = reason
    else:
        code = ReasonCode.objects.filter(kind=kind, code=reason).first()
        if code is None:
            choices = ", ".join(ReasonCode.objects.filter(kind=kind, is_active=True).values_list("code", flat=True))
            raise InvalidInput(f"Unknown {kind} reason {reason!r}; use one of: {choices}.", field="reason")
    if code.kind != kind or not code.is_active:
        raise InvalidInput(f"{code.label!r} is not an active {kind} reason.", field="reason")
    if code.requires_note and not note.strip():
        raise InvalidInput(f"The reason {code.label!r} needs a note that explains it.", field="note")
    return code


# ---------------------------------------------------------------------------------------------
# The one write path
# ---------------------------------------------------------------------------------------------
def _lock(handoffs: Sequence[Handoff | int]) -> list[Handoff]:
    ids = sorted({h.pk if isinstance(h, Handoff) else int(h) for h in handoffs})
    if not ids:
        raise InvalidInput("No handoffs given.", field="handoffs")
    if len(ids) > MAX_BATCH:
        raise InvalidInput(f"At most {MAX_BATCH} handoffs at a time.", field="handoffs")
    # Locking in id order keeps two concurrent batches from deadlocking each other.
    locked = list(
        Handoff.objects.select_for_update(of=("self",))
        .filter(pk__any=ids)
        .select_related("lead", "owner__profile", "definition")
        .defer("lead__raw")
        .order_by("pk")
    )
    missing = set(ids) - {h.pk for h in locked}
    if missing:
        raise InvalidInput(f"No handoff with id {', '.join(map(str, sorted(missing)))}.", field="handoffs")
    return locked


def _transition(
    action: Action,
    handoffs: Sequence[Handoff | int],
    actor: Actor,
    *,
    at: datetime | None = None,
    reason: ReasonCode | str | None = None,
    note: str = "",
    to_state: str | None = None,
    changes: dict | None = None,
    data: dict | None = None,
) -> list[Handoff]:
    at = at or timezone.now()
    note = (note or "").strip()
    with transaction.atomic():
        locked = _lock(handoffs)
        for handoff in locked:
            check(action, actor, handoff)
        code = _reason(action, reason, note) if action in REASON_KIND else None
        target = to_state or TARGET.get(action)
        update = dict(changes or {})
        if target is not None:
            update["state"] = target
        if code is not None and action == Action.DISPUTE:
            update.update(dispute_reason=code, dispute_note=note)
        elif code is not None:
            update.update(reason=code, note=note)
        Handoff.objects.filter(pk__any=[h.pk for h in locked]).update(updated_at=timezone.now(), **update)
        events = _log(action, [(h, h.state, target or h.state) for h in locked], actor, at=at, reason=code, note=note,
                      data=data)
        fresh = _reload(locked)
        _after(action, fresh, events, actor)
    return fresh


def _log(
    action: str,
    moves: list[tuple[Handoff, str, str]],
    actor: Actor,
    *,
    at: datetime,
    reason: ReasonCode | None = None,
    note: str = "",
    data: dict | None = None,
) -> list[HandoffEvent]:
    """One audit row per (handoff, from-state, to-state), with the definition the handoff was judged by."""
    return HandoffEvent.objects.bulk_create(
        HandoffEvent(
            handoff=handoff,
            lead_id=handoff.lead_id,
            action=action,
            from_state=from_state,
            to_state=to_state,
            actor_kind=actor.kind,
            actor=actor.user,
            reason=reason,
            note=note,
            definition_id=handoff.definition_id,
            data=data or {},
            at=at,
        )
        for handoff, from_state, to_state in moves
    )


def _reload(handoffs: Sequence[Handoff]) -> list[Handoff]:
    # The lead's raw CRM record is never needed here, and decoding it dominates a large batch.
    by_id = (
        Handoff.objects.select_related("lead", "owner", "definition", "reason")
        .defer("lead__raw")
        .in_bulk([h.pk for h in handoffs])
    )
    return [by_id[h.pk] for h in handoffs]


def _after(action: str, handoffs: list[Handoff], events: list[HandoffEvent], actor: Actor) -> None:
    """Follow-up work recorded in the same transaction as the transition (SLA clocks, CRM write-back)."""
    for listener in _LISTENERS:
        listener(action=action, handoffs=handoffs, events=events, actor=actor)


_LISTENERS: list = []


def on_transition(listener):
    """Register `listener(action=, handoffs=, events=, actor=)`, called inside the transition's transaction.

    Listeners record durable follow-up work (SLA milestones, a write-back outbox row) and queue anything
    external with `transaction.on_commit`, so nothing leaves the process before the change is committed.
    """
    _LISTENERS.append(listener)
    return listener


# ---------------------------------------------------------------------------------------------
# Actions
# ---------------------------------------------------------------------------------------------
def handoff_accept(*, handoff: Handoff | int, actor: Actor, note: str = "", at: datetime | None = None) -> Handoff:
    at = at or timezone.now()
    return _transition(Action.ACCEPT, [handoff], actor, at=at, note=note, changes={"accepted_at": at})[0]


def handoff_reject(
    *, handoff: Handoff | int, actor: Actor, reason: ReasonCode | str | None, note: str = "", at: datetime | None = None
) -> Handoff:
    return handoffs_reject(handoffs=[handoff], actor=actor, reason=reason, note=note, at=at)[0]


def handoffs_reject(
    *,
    handoffs: Sequence[Handoff | int],
    actor: Actor,
    reason: ReasonCode | str | None,
    note: str = "",
    at: datetime | None = None,
) -> list[Handoff]:
    """Reject one or many handoffs with one reason; all or none."""
    at = at or timezone.now()
    return _transition(Action.REJECT, handoffs, actor, at=at, reason=reason, note=note, changes={"rejected_at": at})


def handoff_touch(
    *,
    handoff: Handoff | int,
    actor: Actor,
    kind: str,
    outcome: str,
    note: str = "",
    at: datetime | None = None,
    logged_at: datetime | None = None,
) -> Handoff:
    """Log a call, email or meeting (an attempt, or a connection) on an accepted lead.

    `at` is when it happened (default: as it is logged); `logged_at` when it is logged (default: now; history
    replayed as it happened, such as the demo's, passes its own).
    """
    if kind not in Touch.Kind.values:
        raise InvalidInput(f"Unknown touch kind {kind!r}; use one of: {', '.join(Touch.Kind.values)}.", field="kind")
    if outcome not in Touch.Outcome.values:
        raise InvalidInput(
            f"Unknown touch outcome {outcome!r}; use one of: {', '.join(Touch.Outcome.values)}.", field="outcome"
        )
    now = logged_at or timezone.now()
    with transaction.atomic():
        at = _touch_time(_lock([handoff])[0], at, now)
        data = _touch_data(kind, outcome, at, now)
        (result,) = _transition(Action.TOUCH, [handoff], actor, at=at, note=note, data=data)
        Touch.objects.create(
            handoff=result, kind=kind, outcome=outcome, at=at, logged_at=now, by=actor.user, note=note.strip()
        )
        # The first touch (and first connection) is the earliest logged, even when logged after the fact.
        firsts = {"first_touch_at": at}
        if outcome == Touch.Outcome.CONNECTED:
            firsts["first_connect_at"] = at
        for field, value in firsts.items():
            Handoff.objects.filter(Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gt": value}), pk=result.pk).update(
                **{field: value}
            )
        result.refresh_from_db()
    return result


def _touch_time(handoff: Handoff, at: datetime | None, now: datetime) -> datetime:
    """When a touch happened: now, or the time a rep gives who logs it after the fact (called first, logged later).

    Never in the future, never before the lead was handed over (a touch before it cannot meet its clock), and at
    most TOUCH_BACKDATE_BUSINESS_HOURS of the owner's business time ago, so a clock cannot be met by a touch
    dated to when it was still running long after it ran out.
    """
    if at is None:
        return now
    if at > now:
        raise InvalidInput("A touch cannot be logged in the future.", field="at")
    if at < handoff.handed_at:
        raise InvalidInput(
            f"A touch cannot be before the lead was handed over ({handoff.handed_at.isoformat()}).", field="at"
        )
    hours = settings.TOUCH_BACKDATE_BUSINESS_HOURS
    calendar = owner_calendar(handoff.owner_id)
    ago = businesstime.between(at, now, calendar) if calendar is not None else now - at
    if ago > timedelta(hours=hours):
        raise InvalidInput(
            f"A touch can be logged at most {hours} business hours after it happened; this one was "
            f"{ago.total_seconds() / 3600:.1f} business hours ago.",
            field="at",
        )
    return at


def _touch_data(kind: str, outcome: str, at: datetime, now: datetime) -> dict:
    data = {"kind": kind, "outcome": outcome}
    if at != now:
        data["logged_at"] = now.isoformat()  # logged after the fact: the event's `at` is when it happened
    return data


def handoff_pause(*, handoff: Handoff | int, actor: Actor, note: str = "", at: datetime | None = None) -> Handoff:
    """Pause the handoff's running SLA milestones by hand (the customer asked to be called next month)."""
    return _transition(Action.PAUSE, [handoff], actor, at=at or timezone.now(), note=note)[0]


def handoff_resume(*, handoff: Handoff | int, actor: Actor, note: str = "", at: datetime | None = None) -> Handoff:
    """Resume the handoff's paused milestones; their due times move by the business time spent paused."""
    return _transition(Action.RESUME, [handoff], actor, at=at or timezone.now(), note=note)[0]


def handoff_convert(*, handoff: Handoff | int, actor: Actor, note: str = "", at: datetime | None = None) -> Handoff:
    return handoffs_convert(handoffs=[handoff], actor=actor, note=note, at=at)[0]


def handoffs_convert(
    *, handoffs: Sequence[Handoff | int], actor: Actor, note: str = "", at: datetime | None = None
) -> list[Handoff]:
    """Mark handoffs converted (SQL / opportunity): by the rep, or by the sync when the CRM converted the lead."""
    at = at or timezone.now()
    return _transition(Action.CONVERT, handoffs, actor, at=at, note=note, changes={"converted_at": at})


def handoff_dispute(
    *, handoff: Handoff | int, actor: Actor, reason: ReasonCode | str | None, note: str = "", at: datetime | None = None
) -> Handoff:
    """Marketing contests a rejection; a manager decides."""
    at = at or timezone.now()
    changes = {"disputed_at": at}
    return _transition(Action.DISPUTE, [handoff], actor, at=at, reason=reason, note=note, changes=changes)[0]


def handoff_resolve(
    *, handoff: Handoff | int, actor: Actor, decision: str | None, note: str = "", at: datetime | None = None
) -> Handoff:
    """A manager decides a dispute: uphold (the rejection stands) or overturn (back to the rep, fresh clock)."""
    if decision not in Decision.__members__.values():
        raise InvalidInput("A decision is required: 'uphold' or 'overturn'.", field="decision")
    at = at or timezone.now()
    if decision == Decision.UPHOLD:
        to_state, changes = S.REJECTED, {"resolved_at": at}
    else:
        to_state = S.QUALIFIED
        changes = {"resolved_at": at, "handed_at": at, "rejected_at": None, "reason": None, "note": ""}
    return _transition(
        Action.RESOLVE,
        [handoff],
        actor,
        at=at,
        note=note,
        to_state=to_state,
        changes=changes,
        data={"decision": str(decision)},
    )[0]


def handoff_recycle(
    *, handoff: Handoff | int, actor: Actor, reason: ReasonCode | str | None, note: str = "", at: datetime | None = None
) -> Handoff:
    return handoffs_recycle(handoffs=[handoff], actor=actor, reason=reason, note=note, at=at)[0]


def handoffs_recycle(
    *,
    handoffs: Sequence[Handoff | int],
    actor: Actor,
    reason: ReasonCode | str | None,
    note: str = "",
    at: datetime | None = None,
) -> list[Handoff]:
    """Send leads back to nurture; a later qualification starts the next handoff of the same lead."""
    at = at or timezone.now()
    return _transition(Action.RECYCLE, handoffs, actor, at=at, reason=reason, note=note, changes={"recycled_at": at})


def handoffs_close(
    *, handoffs: Sequence[Handoff | int], actor: Actor, note: str = "", at: datetime | None = None
) -> list[Handoff]:
    """End open handoffs whose lead was deleted in the CRM."""
    at = at or timezone.now()
    return _transition(Action.CLOSE, handoffs, actor, at=at, note=note, changes={"closed_at": at})


def handoffs_reassign(
    *,
    handoffs: Sequence[Handoff | int],
    actor: Actor,
    owner,
    note: str = "",
    at: datetime | None = None,
) -> list[Handoff]:
    """Give open handoffs to another rep (or back to the queue with owner=None)."""
    if owner is not None and not user_has_role(owner, Role.SALES_REP):
        raise InvalidInput(f"{owner.get_username()} is not a sales rep.", field="owner")
    return _transition(
        Action.REASSIGN,
        handoffs,
        actor,
        at=at,
        note=note,
        changes={"owner": owner},
        data={"owner": owner.get_username() if owner is not None else None},
    )


# ---------------------------------------------------------------------------------------------
# Qualification: the start of a handoff
# ---------------------------------------------------------------------------------------------
def active_definition() -> LeadDefinition:
    definition = LeadDefinition.objects.filter(is_active=True).first()
    if definition is None:
        raise InvalidInput("No lead definition is active; an admin must activate one.", field="definition")
    return definition


def handoff_qualify(*, lead: Lead | int, actor: Actor, note: str = "", at: datetime | None = None) -> Handoff:
    """A marketer tags a lead as qualified (MQL): it is handed to its owner."""
    lead_id = lead.pk if isinstance(lead, Lead) else int(lead)
    if actor.kind == ActorKind.USER and not actor.has_role(Role.MARKETER):
        raise NotAllowed("Only a marketer can qualify a lead.", code="forbidden_role")
    if actor.kind not in (ActorKind.USER, ActorKind.RULE):
        raise NotAllowed("Only a marketer or the lead definition rule can qualify a lead.", code="forbidden_role")
    created = handoffs_qualify(lead_ids=[lead_id], actor=actor, note=note, at=at, strict=True)
    return created[0]


def handoffs_qualify(
    *,
    lead_ids: Sequence[int],
    actor: Actor,
    note: str = "",
    at: datetime | None = None,
    strict: bool = False,
) -> list[Handoff]:
    """Start a handoff for each lead, with the next sequence number and the definition in force.

    strict: raise when a lead cannot be qualified (a person's action); otherwise skip it (the rule
    qualifying a sync batch, where a lead that already has an open handoff is simply not a new MQL).
    """
    at = at or timezone.now()
    note = (note or "").strip()
    with transaction.atomic():
        definition = active_definition()
        leads = list(Lead.objects.select_for_update().filter(pk__any=lead_ids).defer("raw").order_by("pk"))
        if strict and len(leads) != len(set(lead_ids)):
            raise InvalidInput("No such lead.", field="lead")
        open_ids = set(
            Handoff.objects.filter(lead_id__any=[lead.pk for lead in leads], state__in=OPEN_STATES).values_list(
                "lead_id", flat=True
            )
        )
        eligible = []
        for lead in leads:
            problem = None
            if lead.is_deleted:
                problem = "it was deleted in the CRM"
            elif lead.is_converted:
                problem = "it is already converted"
            elif lead.pk in open_ids:
                problem = "it already has an open handoff"
            if problem is None:
                eligible.append(lead)
            elif strict:
                raise WrongState(f"Cannot qualify lead {lead}: {problem}.", code="wrong_state")
        if not eligible:
            return []
        last = dict(
            Handoff.objects.filter(lead_id__any=[lead.pk for lead in eligible])
            .values("lead_id")
            .annotate(last=Max("sequence"))
            .values_list("lead_id", "last")
        )
        created = Handoff.objects.bulk_create(
            Handoff(
                lead=lead,
                sequence=last.get(lead.pk, 0) + 1,
                state=S.QUALIFIED,
                owner_id=lead.owner_id,
                definition=definition,
                qualified_by_kind=actor.kind,
                qualified_by=actor.user,
                qualified_at=at,
                handed_at=at,
                note=note,
            )
            for lead in eligible
        )
        events = _log("qualify", [(h, "", S.QUALIFIED) for h in created], actor, at=at, note=note)
        # Just written from these very objects (with their leads attached): no reload needed.
        _after("qualify", created, events, actor)
    return created


def leads_qualify_by_rule(*, lead_ids: Sequence[int] | None = None, at: datetime | None = None) -> list[Handoff]:
    """Qualify, as the rule, every lead (of those given) that meets the active definition.

    A lead qualifies again only after it changed since its last episode ended, so a recycled lead that
    still meets the definition is not handed straight back by the rule.
    """
    from handoff.rules import as_q, parse_conditions

    definition = LeadDefinition.objects.filter(is_active=True).first()
    if definition is None:
        return []
    last_end = (
        Handoff.objects.filter(lead_id=OuterRef("pk"), state__in=[S.RECYCLED, S.CLOSED])
        .annotate(ended=Coalesce("recycled_at", "closed_at"))
        .order_by("-ended")
        .values("ended")[:1]
    )
    candidates = (
        Lead.objects.filter(as_q(parse_conditions(definition.conditions)), is_deleted=False, is_converted=False)
        .exclude(pk__in=Handoff.objects.filter(state__in=OPEN_STATES).values("lead_id"))
        .annotate(last_end=Subquery(last_end))
        .filter(Q(last_end__isnull=True) | Q(crm_modified_at__gt=F("last_end")))
    )
    if lead_ids is not None:
        candidates = candidates.filter(pk__any=lead_ids)
    ids = list(candidates.order_by("pk").values_list("pk", flat=True))
    created: list[Handoff] = []
    for start in range(0, len(ids), MAX_BATCH):
        created += handoffs_qualify(lead_ids=ids[start : start + MAX_BATCH], actor=Actor.rule(), at=at)
    return created
