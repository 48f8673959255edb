"""The actions on a handoff after it started: accept, reject, touch, convert, dispute, resolve, recycle, close,
reassign, and the pause and resume of its SLA milestones."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from handoff import businesstime
from handoff.exceptions import InvalidInput, WrongState
from handoff.models import Handoff, HandoffState, Milestone, ReasonCode, Role, Touch
from handoff.models.sla import RUNNING
from handoff.selectors.calendars import owner_calendar
from handoff.selectors.people import user_has_role

from ..actors import Actor
from .machine import _lock, _transition
from .rules import Action, Decision, check

S = HandoffState


# The moment each action records on the handoff, besides its event.
STAMPS = {
    Action.ACCEPT: "accepted_at",
    Action.REJECT: "rejected_at",
    Action.CONVERT: "converted_at",
    Action.DISPUTE: "disputed_at",
    Action.RECYCLE: "recycled_at",
    Action.CLOSE: "closed_at",
}


def _stamped(
    action: Action,
    handoffs: Sequence[Handoff | int],
    actor: Actor,
    *,
    at: datetime | None,
    note: str,
    reason: ReasonCode | str | None = None,
) -> list[Handoff]:
    """A transition that records when it happened in the handoff's own `<action>ed_at` field."""
    at = at or timezone.now()
    return _transition(action, handoffs, actor, at=at, reason=reason, note=note, changes={STAMPS[action]: at})


def handoff_accept(*, handoff: Handoff | int, actor: Actor, note: str = "", at: datetime | None = None) -> Handoff:
    return handoffs_accept(handoffs=[handoff], actor=actor, note=note, at=at)[0]


def handoffs_accept(
    *, handoffs: Sequence[Handoff | int], actor: Actor, note: str = "", at: datetime | None = None
) -> list[Handoff]:
    """Accept one or many handoffs (a rep's bulk accept); all or none."""
    return _stamped(Action.ACCEPT, handoffs, actor, at=at, note=note)


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
    return _stamped(Action.REJECT, handoffs, actor, at=at, reason=reason, note=note)


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
    _clocks_check(Action.PAUSE, handoff, actor)
    return _transition(Action.PAUSE, [handoff], actor, at=at or timezone.now(), note=note)[0]


def handoff_resume(*, handoff: Handoff | int, actor: Actor, note: str = "", at: datetime | None = None) -> Handoff:
    """Resume the handoff's paused milestones; their due times move by the business time spent paused."""
    _clocks_check(Action.RESUME, handoff, actor)
    return _transition(Action.RESUME, [handoff], actor, at=at or timezone.now(), note=note)[0]


def _clocks_check(action: Action, handoff: Handoff | int, actor: Actor) -> None:
    """Refuse before writing anything: who may not (the rules), or no clock to pause or resume (a wrong state).

    The transition checks both again under its lock; this keeps a refusal from writing and rolling back.
    """
    target = handoff
    if not isinstance(target, Handoff):
        target = Handoff.objects.select_related("lead").filter(pk=handoff).first()
    if target is None:
        return  # the transition says it does not exist
    check(action, actor, target)
    clocks = Milestone.objects.filter(handoff_id=target.pk, met_at__isnull=True, stopped_at__isnull=True)
    if action == Action.PAUSE and not clocks.filter(RUNNING).exists():
        raise WrongState(f"Lead {target.lead} has no running SLA milestone to pause.", code="wrong_state")
    if action == Action.RESUME and not clocks.filter(paused_at__isnull=False).exists():
        raise WrongState(f"Lead {target.lead} has no paused SLA milestone.", code="wrong_state")


def handoff_convert(*, handoff: Handoff | int, actor: Actor, note: str = "", at: datetime | None = None) -> Handoff:
    return handoffs_convert(handoffs=[handoff], actor=actor, note=note, at=at)[0]


def handoffs_convert(
    *, handoffs: Sequence[Handoff | int], actor: Actor, note: str = "", at: datetime | None = None
) -> list[Handoff]:
    """Mark handoffs converted (SQL / opportunity): by the rep, or by the sync when the CRM converted the lead."""
    return _stamped(Action.CONVERT, handoffs, actor, at=at, note=note)


def handoff_dispute(
    *, handoff: Handoff | int, actor: Actor, reason: ReasonCode | str | None, note: str = "", at: datetime | None = None
) -> Handoff:
    """Marketing contests a rejection; a manager decides."""
    return _stamped(Action.DISPUTE, [handoff], actor, at=at, reason=reason, note=note)[0]


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
    return _stamped(Action.RECYCLE, handoffs, actor, at=at, reason=reason, note=note)


def handoffs_close(
    *, handoffs: Sequence[Handoff | int], actor: Actor, note: str = "", at: datetime | None = None
) -> list[Handoff]:
    """End open handoffs whose lead was deleted in the CRM."""
    return _stamped(Action.CLOSE, handoffs, actor, at=at, note=note)


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
