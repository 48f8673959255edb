"""The rules of engagement as a table: who (which party to the handoff) may take which action from which state."""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from handoff.exceptions import InvalidInput, NotAllowed, WrongState
from handoff.models import Handoff, HandoffState, ReasonCode, Role
from handoff.models.handoffs import OPEN_STATES, ActorKind

from ..actors import Actor

S = HandoffState


class Party(StrEnum):
    """How an actor relates to one handoff; the rules grant actions to parties, not to users."""

    MARKETER = "marketer"
    OWNER = "owner"
    TEAM_MANAGER = "team_manager"
    RULE = "rule"
    SYNC = "sync"
    SYSTEM = "system"
    ROUTING = "routing"


PARTY_TEXT = {
    Party.MARKETER: "a marketer",
    Party.OWNER: "the rep the lead was handed to",
    Party.TEAM_MANAGER: "that rep's manager",
    Party.RULE: "the lead definition rule",
    Party.SYNC: "the CRM sync",
    Party.SYSTEM: "the SLA escalation",
    Party.ROUTING: "routing",
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
def parties(actor: Actor, handoff: Handoff) -> frozenset[Party]:
    """The parties the actor is to this handoff (a person may be several: a manager who also markets)."""
    # Only a manager's answer depends on the owner's team: nobody else makes the owner's profile be read.
    asks_team = handoff.owner_id is not None and actor.kind == ActorKind.USER and actor.has_role(Role.MANAGER)
    return parties_to(actor, handoff.owner_id, _owner_team_id(handoff) if asks_team else None)


def parties_to(actor: Actor, owner_id: int | None, owner_team_id: int | None) -> frozenset[Party]:
    """The parties the actor is to a handoff owned by `owner_id` (none: in the queue), of team `owner_team_id`."""
    if actor.kind != ActorKind.USER:
        return frozenset({Party(actor.kind)})
    found: set[Party] = set()
    if actor.has_role(Role.MARKETER):
        found.add(Party.MARKETER)
    if actor.has_role(Role.SALES_REP) and owner_id is not None and owner_id == actor.user_id:
        found.add(Party.OWNER)
    # A queue-held handoff belongs to no team yet: any manager may pick it up.
    if actor.has_role(Role.MANAGER) and (
        owner_id is None or (owner_team_id is not None and owner_team_id in actor.managed_team_ids)
    ):
        found.add(Party.TEAM_MANAGER)
    return frozenset(found)


def _owner_team_id(handoff: Handoff) -> int | None:
    owner = handoff.owner
    profile = getattr(owner, "profile", None) if owner is not None else None
    return profile.team_id if profile is not None else None


def allowed_actions(actor: Actor, handoff: Handoff) -> list[Action]:
    """The actions this actor may take on this handoff now (for buttons and the API's `actions`)."""
    return list(actions_of(handoff.state, parties(actor, handoff)))


@functools.cache
def actions_of(state: str, parties: frozenset[Party]) -> tuple[Action, ...]:
    """The actions the rules give these parties in this state (a list's rows ask this for a handful of keys)."""
    return tuple(
        action
        for action, rules in RULES.items()
        if action not in MILESTONE_ACTIONS and any(state in r.sources and r.parties & parties for r in rules)
    )


def actions_reader(actor: Actor) -> Callable[[str, int | None, int | None], list[str]]:
    """`allowed_actions` of `actor` for a list's rows, from a row's (state, owner id, owner's team id) and no model
    instance: the parties the actor is to a row worked out once per owner on the page, the rules' (cached) answer
    once per state and parties."""
    known: dict[tuple, list[str]] = {}
    parties: dict[tuple, frozenset] = {}

    def actions(state: str, owner_id: int | None, team_id: int | None) -> list[str]:
        key = (state, owner_id, team_id)
        if key not in known:
            if (owner_id, team_id) not in parties:
                parties[(owner_id, team_id)] = parties_to(actor, owner_id, team_id)
            known[key] = [str(action) for action in actions_of(state, parties[(owner_id, team_id)])]
        return known[key]

    return actions


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
