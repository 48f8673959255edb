"""The one write path of handoffs: lock, check every rule, one set-based update, one audit row per handoff, and the
listeners (SLA milestones, CRM write-back) called in the same transaction."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from handoff.db import insert_rows
from handoff.exceptions import InvalidInput
from handoff.models import Handoff, HandoffEvent, HandoffState, ReasonCode

from ..actors import Actor
from .rules import REASON_KIND, TARGET, Action, _reason, check

S = HandoffState
MAX_BATCH = 1000


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
    data_by_handoff: dict[int, dict] | None = None,
    returning: bool = True,
) -> list[HandoffEvent]:
    """One audit row per (handoff, from-state, to-state), with the definition the handoff was judged by.

    `data_by_handoff`: details of each handoff's own (a routing decision), by handoff id; else `data` for all.
    `returning=False`: the caller needs no event objects back (a routing batch), so the rows go in as COPY.
    """
    if not returning:
        insert_rows(HandoffEvent, [
            {"handoff_id": handoff.pk, "lead_id": handoff.lead_id, "action": action, "from_state": from_state,
             "to_state": to_state, "actor_kind": actor.kind, "actor_id": actor.user_id,
             "reason_id": reason.pk if reason else None, "note": note, "definition_id": handoff.definition_id,
             "data": (data_by_handoff or {}).get(handoff.pk, data or {}), "at": at}
            for handoff, from_state, to_state in moves
        ])
        return []
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
            data=(data_by_handoff or {}).get(handoff.pk, data or {}),
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
