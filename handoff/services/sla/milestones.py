"""SLA milestones of each handoff: started, met, stopped, recomputed, paused and resumed as the handoff moves.

Milestones follow the state machine through `on_transition` (registered when this package is imported, in
`HandoffConfig.ready`), inside the transition's transaction, a batch at a time: one read and one write per batch,
never a save() per handoff. Business time is `handoff.businesstime`, in the owner's calendar.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.db.models import F, Max

from handoff import businesstime
from handoff.db import bulk_set, insert_rows
from handoff.exceptions import WrongState
from handoff.models import Handoff, HandoffEvent, Milestone, MilestoneKind, Touch
from handoff.models.sla import RUNNING, PausedBy
from handoff.segments import parse_segments, segment_for
from handoff.selectors.calendars import calendars_load, owner_calendar_ids
from handoff.selectors.sla import active_policy

from ..actors import Actor
from ..handoffs import on_transition

K = MilestoneKind


def _secs(delta: timedelta) -> int:
    return round(delta.total_seconds())


def milestones_start(*, handoffs: Sequence[Handoff], at: datetime, new: bool = False) -> int:
    """Start the next round of clocks (accept, first touch, follow-up) of each handoff, in its owner's calendar.

    Round 1 at qualification (`new`: the handoffs were just created, so no earlier round is looked up), round
    N+1 when a dispute overturned the rejection. No active policy: no clocks.
    """
    policy = active_policy()
    if policy is None or not handoffs:
        return 0
    segments = parse_segments(policy.segments)
    cal_ids = owner_calendar_ids([h.owner_id for h in handoffs])
    handoffs = [h for h in handoffs if cal_ids[h.owner_id] is not None]
    cals = calendars_load(set(cal_ids.values()) - {None})
    rounds = (
        {}
        if new
        else dict(
            Milestone.objects.filter(handoff_id__any=[h.pk for h in handoffs])
            .values("handoff_id")
            .annotate(last=Max("round"))
            .values_list("handoff_id", "last")
        )
    )
    share = float(policy.reminder_share)
    rows = []
    for handoff in handoffs:
        segment = segment_for(segments, handoff.lead)
        cal_id = cal_ids[handoff.owner_id]
        cal = cals[cal_id]
        windows = [
            (K.ACCEPT, segment.accept_minutes * 60, 1),
            (K.FIRST_TOUCH, segment.first_touch_minutes * 60, 1),
        ]
        if policy.follow_up_attempts:
            windows.append((K.FOLLOW_UP, policy.follow_up_minutes * 60, policy.follow_up_attempts))
        for kind, seconds, required in windows:
            rows.append(
                {
                    "handoff_id": handoff.pk,
                    "kind": kind,
                    "round": rounds.get(handoff.pk, 0) + 1,
                    "policy_id": policy.pk,
                    "segment": segment.name,
                    "calendar_id": cal_id,
                    "started_at": at,
                    "window_seconds": seconds,
                    "due_at": businesstime.add(at, timedelta(seconds=seconds), cal),
                    "remind_at": businesstime.add(at, timedelta(seconds=round(seconds * share)), cal),
                    "attempts_required": required,
                }
            )
    return insert_rows(Milestone, rows)


def _open_milestones(handoff_ids: Iterable[int], kinds: Iterable[str] | None = None):
    qs = Milestone.objects.filter(handoff_id__any=list(handoff_ids), met_at__isnull=True, stopped_at__isnull=True)
    return qs.filter(kind__in=list(kinds)) if kinds is not None else qs


def _meet(milestones: list[Milestone], at_by_handoff: dict[int, datetime]) -> int:
    """Mark clocks met: late ones are breaches too (breached at their due time); business time taken is stored."""
    if not milestones:
        return 0
    cals = calendars_load({m.calendar_id for m in milestones})
    for m in milestones:
        at = max(at_by_handoff[m.handoff_id], m.started_at)
        if m.paused_at is not None:
            left = m.remaining_seconds or 0
        else:
            left = _secs(businesstime.between(at, m.due_at, cals[m.calendar_id]))
        m.met_at = at
        m.business_seconds_taken = m.window_seconds - left
        if m.breached_at is None and at > m.due_at:
            m.breached_at = m.due_at
    bulk_set(milestones, ["met_at", "business_seconds_taken", "breached_at"])
    return len(milestones)


def milestones_meet(*, handoff_ids: Iterable[int], kind: str, at: datetime | dict[int, datetime]) -> int:
    """Meet the open `kind` clock of each handoff at `at` (one instant, or one per handoff id)."""
    ids = list(handoff_ids)
    when = at if isinstance(at, dict) else dict.fromkeys(ids, at)
    return _meet(list(_open_milestones(ids, [kind])), when)


def milestones_stop(*, handoff_ids: Iterable[int], at: datetime, kinds: Iterable[str] | None = None) -> int:
    """The handoffs ended: their unmet clocks are no longer due (a breach already flagged stays a breach)."""
    return _open_milestones(handoff_ids, kinds).update(stopped_at=at)


def milestones_recompute(*, handoffs: Sequence[Handoff], at: datetime) -> int:
    """Move open clocks to the new owner's calendar, keeping the business time each had left at `at`.

    A clock already past due keeps its due time (it is a breach whoever owns the lead now).
    """
    cal_ids = owner_calendar_ids([h.owner_id for h in handoffs])
    target = {h.pk: cal_ids[h.owner_id] for h in handoffs if cal_ids[h.owner_id] is not None}
    clocks = [
        m for m in _open_milestones(target).filter(breached_at__isnull=True) if m.calendar_id != target[m.handoff_id]
    ]
    if not clocks:
        return 0
    cals = calendars_load({m.calendar_id for m in clocks} | set(target.values()))
    for m in clocks:
        old, new = cals[m.calendar_id], cals[target[m.handoff_id]]
        if m.paused_at is None and m.due_at > at:
            m.due_at = businesstime.add(at, businesstime.between(at, m.due_at, old), new)
            if m.reminded_at is None and m.remind_at is not None and m.remind_at > at:
                m.remind_at = businesstime.add(at, businesstime.between(at, m.remind_at, old), new)
        m.calendar_id = target[m.handoff_id]
    bulk_set(clocks, ["due_at", "remind_at", "calendar"])
    return len(clocks)


def milestones_pause(*, handoff_ids: Iterable[int], at: datetime, by: str) -> int:
    """Pause the running clocks of these handoffs, storing the business time each has left."""
    clocks = list(Milestone.objects.filter(RUNNING, handoff_id__any=list(handoff_ids)))
    if not clocks:
        return 0
    cals = calendars_load({m.calendar_id for m in clocks})
    for m in clocks:
        cal = cals[m.calendar_id]
        m.paused_at, m.paused_by = at, by
        m.remaining_seconds = max(_secs(businesstime.between(at, m.due_at, cal)), 0)
        if m.reminded_at is None and m.remind_at is not None:
            m.remind_remaining_seconds = max(_secs(businesstime.between(at, m.remind_at, cal)), 0)
    bulk_set(clocks, ["paused_at", "paused_by", "remaining_seconds", "remind_remaining_seconds"])
    return len(clocks)


def milestones_resume(*, handoff_ids: Iterable[int], at: datetime, by: str | None = None) -> int:
    """Resume paused clocks: due and reminder times recomputed from the business time left (`by`: only those)."""
    qs = Milestone.objects.filter(
        handoff_id__any=list(handoff_ids), paused_at__isnull=False, met_at__isnull=True, stopped_at__isnull=True
    )
    clocks = list(qs.filter(paused_by=by) if by else qs)
    if not clocks:
        return 0
    cals = calendars_load({m.calendar_id for m in clocks})
    for m in clocks:
        cal = cals[m.calendar_id]
        m.due_at = businesstime.add(at, timedelta(seconds=m.remaining_seconds or 0), cal)
        if m.remind_remaining_seconds is not None:
            m.remind_at = businesstime.add(at, timedelta(seconds=m.remind_remaining_seconds), cal)
        m.paused_at, m.paused_by, m.remaining_seconds, m.remind_remaining_seconds = None, "", None, None
    bulk_set(clocks, ["due_at", "remind_at", "paused_at", "paused_by", "remaining_seconds", "remind_remaining_seconds"])
    return len(clocks)


def _connected(at_by_handoff: dict[int, datetime]) -> int:
    """Record a connected touch on the first-touch clock of each handoff's latest round, when it is the first.

    The business time to it is read off the round's clocks as they stand when it is logged: an open one has been
    moved by every pause (taken = window - time left), and once all are met nothing can pause them (taken = the
    last one met + the time since). So paused time is excluded without a history of pauses.
    """
    clocks = list(Milestone.objects.filter(handoff_id__any=list(at_by_handoff), kind__in=[K.FIRST_TOUCH, K.FOLLOW_UP]))
    latest: dict[int, int] = {}
    for m in clocks:
        latest[m.handoff_id] = max(latest.get(m.handoff_id, 0), m.round)
    rounds: dict[int, list[Milestone]] = {}
    for m in clocks:
        if m.round == latest[m.handoff_id]:
            rounds.setdefault(m.handoff_id, []).append(m)
    cals = calendars_load({m.calendar_id for m in clocks})
    changed = []
    for handoff_id, at in at_by_handoff.items():
        mine = rounds.get(handoff_id, [])
        first = next((m for m in mine if m.kind == K.FIRST_TOUCH), None)
        if first is None or (first.connected_at is not None and first.connected_at <= at):
            continue
        # Breached clocks no longer pause with the others: an unbreached open clock tells the paused time best.
        open_ = sorted(
            (m for m in mine if m.met_at is None and m.stopped_at is None), key=lambda m: m.breached_at is not None
        )
        if open_:
            m = open_[0]
            if m.paused_at is not None:
                left = m.remaining_seconds or 0
            else:
                left = _secs(businesstime.between(at, m.due_at, cals[m.calendar_id]))
            taken = m.window_seconds - left
        else:
            met = [m for m in mine if m.met_at is not None]
            if not met:
                continue
            m = max(met, key=lambda m: m.met_at)
            taken = (m.business_seconds_taken or 0) + _secs(businesstime.between(m.met_at, at, cals[m.calendar_id]))
        first.connected_at, first.business_seconds_to_connect = at, max(taken, 0)
        changed.append(first)
    bulk_set(changed, ["connected_at", "business_seconds_to_connect"])
    return len(changed)


def _touched(handoffs: list[Handoff], events: list[HandoffEvent]) -> None:
    at = {e.handoff_id: e.at for e in events}
    ids = list(at)
    # Before the first-touch clock is met by this very touch, so a first touch that connects reads the same time.
    connected = {e.handoff_id: e.at for e in events if e.data.get("outcome") == Touch.Outcome.CONNECTED}
    if connected:
        _connected(connected)
    milestones_meet(handoff_ids=ids, kind=K.FIRST_TOUCH, at=at)
    # Every logged touch is an attempt; the follow-up clock is met by the attempt that reaches the agreed count.
    _open_milestones(ids, [K.FOLLOW_UP]).update(attempts=F("attempts") + 1)
    done = list(_open_milestones(ids, [K.FOLLOW_UP]).filter(attempts__gte=F("attempts_required")))
    _meet(done, at)


@on_transition
def milestones_on_transition(*, action: str, handoffs: list[Handoff], events: list[HandoffEvent], actor: Actor) -> None:
    """Keep each handoff's clocks in step with the transition just made (same transaction, whole batch)."""
    if not handoffs:
        return
    ids = [h.pk for h in handoffs]
    at = events[0].at
    if action == "qualify":
        milestones_start(handoffs=handoffs, at=at, new=True)
    elif action == "accept":
        milestones_meet(handoff_ids=ids, kind=K.ACCEPT, at=at)
    elif action == "reject":
        milestones_meet(handoff_ids=ids, kind=K.ACCEPT, at=at)
        # A rejected lead is not touched: its touch clocks are not due (an overturn starts fresh ones).
        milestones_stop(handoff_ids=ids, at=at, kinds=[K.FIRST_TOUCH, K.FOLLOW_UP])
    elif action == "touch":
        _touched(handoffs, events)
    elif action == "resolve":
        decided = {e.handoff_id: e.data.get("decision") for e in events}
        overturned = [h for h in handoffs if decided.get(h.pk) == "overturn"]
        if overturned:
            milestones_stop(handoff_ids=[h.pk for h in overturned], at=at)
            milestones_start(handoffs=overturned, at=at)
    elif action == "reassign":
        milestones_recompute(handoffs=handoffs, at=at)
    elif action == "pause":
        if not milestones_pause(handoff_ids=ids, at=at, by=PausedBy.FLAG):
            raise WrongState(f"Lead {handoffs[0].lead} has no running SLA milestone to pause.", code="wrong_state")
    elif action == "resume":
        if not milestones_resume(handoff_ids=ids, at=at):
            raise WrongState(f"Lead {handoffs[0].lead} has no paused SLA milestone.", code="wrong_state")
    elif action in ("convert", "recycle", "close"):
        milestones_stop(handoff_ids=ids, at=at)
