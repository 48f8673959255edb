"""SLA clocks: milestones started, met, paused, resumed, recomputed and stopped as handoffs move; the breach scans.

Clocks follow the state machine through `on_transition` (registered in `HandoffConfig.ready`), inside the
transition's transaction, a batch at a time: one read and one write per batch, never a save() per handoff.
Business-time maths is `handoff.businesstime`, shared with the reports.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from handoff import businesstime
from handoff.db import bulk_set, insert_rows
from handoff.exceptions import NotAllowed, WrongState
from handoff.models import (
    Handoff,
    HandoffEvent,
    Milestone,
    MilestoneKind,
    SlaNotification,
    SlaPolicy,
)
from handoff.models.handoffs import OPEN_STATES
from handoff.models.sla import RUNNING, Escalation, NoticeKind, PausedBy
from handoff.segments import parse_segments, segment_for
from handoff.selectors.calendars import calendars_load, owner_calendar_ids

from .actors import Actor
from .handoffs import (
    MAX_BATCH,
    RULES,
    Action,
    Party,
    handoffs_reassign,
    handoffs_recycle,
    on_transition,
    parties,
)

K = MilestoneKind
SCAN_BATCH = 10_000  # clocks per scan statement: one sort of the due rows per batch, locks held for ~0.2 s


def _secs(delta: timedelta) -> int:
    return round(delta.total_seconds())


# ---------------------------------------------------------------------------------------------
# Policies
# ---------------------------------------------------------------------------------------------
def active_policy() -> SlaPolicy | None:
    return SlaPolicy.objects.filter(is_active=True).first()


# ---------------------------------------------------------------------------------------------
# Clocks
# ---------------------------------------------------------------------------------------------
def clocks_start(*, handoffs: Sequence[Handoff], at: datetime, new: bool = False) -> int:
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
    rounds = {} if new else dict(
        Milestone.objects.filter(handoff_id__any=[h.pk for h in handoffs])
        .values("handoff_id")
        .annotate(last=Max("round"))
        .values_list("handoff_id", "last")
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


def _open_clocks(handoff_ids: Iterable[int], kinds: Iterable[str] | None = None):
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


def clocks_meet(*, handoff_ids: Iterable[int], kind: str, at: datetime | dict[int, datetime]) -> int:
    """Meet the open `kind` clock of each handoff at `at` (one instant, or one per handoff id)."""
    ids = list(handoff_ids)
    when = at if isinstance(at, dict) else dict.fromkeys(ids, at)
    return _meet(list(_open_clocks(ids, [kind])), when)


def clocks_stop(*, handoff_ids: Iterable[int], at: datetime, kinds: Iterable[str] | None = None) -> int:
    """The handoffs ended: their unmet clocks are no longer due (a breach already flagged stays a breach)."""
    return _open_clocks(handoff_ids, kinds).update(stopped_at=at)


def clocks_recompute(*, handoffs: Sequence[Handoff], at: datetime) -> int:
    """Move open clocks to the new owner's calendar, keeping the business time each had left at `at`.

    A clock already past due keeps its due time (it is a breach whoever owns the lead now).
    """
    cal_ids = owner_calendar_ids([h.owner_id for h in handoffs])
    target = {h.pk: cal_ids[h.owner_id] for h in handoffs if cal_ids[h.owner_id] is not None}
    clocks = [
        m
        for m in _open_clocks(target).filter(breached_at__isnull=True)
        if m.calendar_id != target[m.handoff_id]
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


def clocks_pause(*, handoff_ids: Iterable[int], at: datetime, by: str) -> int:
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


def clocks_resume(*, handoff_ids: Iterable[int], at: datetime, by: str | None = None) -> int:
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
    bulk_set(
        clocks, ["due_at", "remind_at", "paused_at", "paused_by", "remaining_seconds", "remind_remaining_seconds"]
    )
    return len(clocks)


def _touched(handoffs: list[Handoff], events: list[HandoffEvent]) -> None:
    at = {e.handoff_id: e.at for e in events}
    ids = list(at)
    clocks_meet(handoff_ids=ids, kind=K.FIRST_TOUCH, at=at)
    # Every logged touch is an attempt; the follow-up clock is met by the attempt that reaches the agreed count.
    _open_clocks(ids, [K.FOLLOW_UP]).update(attempts=F("attempts") + 1)
    done = list(_open_clocks(ids, [K.FOLLOW_UP]).filter(attempts__gte=F("attempts_required")))
    _meet(done, at)


@on_transition
def clocks_on_transition(*, action: str, handoffs: list[Handoff], events: list[HandoffEvent], actor: Actor) -> None:
    """Keep each handoff's clocks in step with the transition just made (same transaction, whole batch)."""
    if not handoffs:
        return
    ids = [h.pk for h in handoffs]
    at = events[0].at
    if action == "qualify":
        clocks_start(handoffs=handoffs, at=at, new=True)
    elif action == "accept":
        clocks_meet(handoff_ids=ids, kind=K.ACCEPT, at=at)
    elif action == "reject":
        clocks_meet(handoff_ids=ids, kind=K.ACCEPT, at=at)
        # A rejected lead is not touched: its touch clocks are not due (an overturn starts fresh ones).
        clocks_stop(handoff_ids=ids, at=at, kinds=[K.FIRST_TOUCH, K.FOLLOW_UP])
    elif action == "touch":
        _touched(handoffs, events)
    elif action == "resolve":
        decided = {e.handoff_id: e.data.get("decision") for e in events}
        overturned = [h for h in handoffs if decided.get(h.pk) == "overturn"]
        if overturned:
            clocks_stop(handoff_ids=[h.pk for h in overturned], at=at)
            clocks_start(handoffs=overturned, at=at)
    elif action == "reassign":
        clocks_recompute(handoffs=handoffs, at=at)
    elif action in ("convert", "recycle", "close"):
        clocks_stop(handoff_ids=ids, at=at)


# ---------------------------------------------------------------------------------------------
# Pause and resume: by hand, or by CRM status after a sync page
# ---------------------------------------------------------------------------------------------
def _log_flag(action: str, handoff: Handoff, actor: Actor, at: datetime, note: str) -> None:
    HandoffEvent.objects.create(
        handoff=handoff,
        lead_id=handoff.lead_id,
        action=action,
        from_state=handoff.state,
        to_state=handoff.state,
        actor_kind=actor.kind,
        actor=actor.user,
        note=note,
        definition_id=handoff.definition_id,
        at=at,
    )


def _check_flag(action: str, handoff: Handoff | int, actor: Actor) -> Handoff:
    handoff = Handoff.objects.select_for_update(of=("self",)).select_related("lead", "owner__profile").get(
        pk=handoff.pk if isinstance(handoff, Handoff) else handoff
    )
    if not parties(actor, handoff) & {Party.OWNER, Party.TEAM_MANAGER, Party.SYSTEM}:
        raise NotAllowed(f"You may not {action} the SLA clocks of lead {handoff.lead}: only its rep or their "
                         "manager can.", code="forbidden_role")
    if handoff.state not in OPEN_STATES:
        raise WrongState(f"Lead {handoff.lead}'s handoff has ended; its clocks are stopped.", code="wrong_state")
    return handoff


def handoff_pause(*, handoff: Handoff | int, actor: Actor, note: str = "", at: datetime | None = None) -> int:
    """Pause a handoff's running clocks by hand (e.g. the customer asked to be called back next month)."""
    at = at or timezone.now()
    with transaction.atomic():
        locked = _check_flag("pause", handoff, actor)
        if not Milestone.objects.filter(RUNNING, handoff=locked).exists():
            raise WrongState(f"Lead {locked.lead} has no running SLA clock to pause.", code="wrong_state")
        count = clocks_pause(handoff_ids=[locked.pk], at=at, by=PausedBy.FLAG)
        _log_flag("pause", locked, actor, at, note.strip())
    return count


def handoff_resume(*, handoff: Handoff | int, actor: Actor, note: str = "", at: datetime | None = None) -> int:
    """Resume a handoff's paused clocks; their due times move by the business time spent paused."""
    at = at or timezone.now()
    with transaction.atomic():
        locked = _check_flag("resume", handoff, actor)
        count = clocks_resume(handoff_ids=[locked.pk], at=at)
        if not count:
            raise WrongState(f"Lead {locked.lead} has no paused SLA clock.", code="wrong_state")
        _log_flag("resume", locked, actor, at, note.strip())
    return count


def clocks_sync_status(*, lead_ids: Sequence[int], at: datetime | None = None) -> tuple[int, int]:
    """Pause or resume clocks after a sync upserted these leads: a lead whose CRM status is one of its policy's
    pause statuses pauses, one that left them resumes (clocks paused by hand stay paused).

    For the CRM sync, once per page with the page's lead ids; set-based. Returns (paused, resumed).
    """
    at = at or timezone.now()
    paused = resumed = 0
    policies = {
        pk: statuses
        for pk, statuses in SlaPolicy.objects.values_list("pk", "pause_statuses")
        if statuses
    }
    # Clocks of a policy without pause statuses never pause by status; one that did may still need resuming.
    for policy_id, statuses in policies.items():
        to_pause = (
            Milestone.objects.filter(RUNNING, policy_id=policy_id, handoff__lead_id__any=lead_ids,
                                     handoff__lead__status__in=statuses)
            .values_list("handoff_id", flat=True)
            .distinct()
        )
        paused += clocks_pause(handoff_ids=list(to_pause), at=at, by=PausedBy.STATUS)
    to_resume = (
        Milestone.objects.filter(paused_by=PausedBy.STATUS, met_at__isnull=True, stopped_at__isnull=True,
                                 handoff__lead_id__any=lead_ids)
        .values_list("handoff_id", "policy_id", "handoff__lead__status")
        .distinct()
    )
    resume_ids = {h for h, policy_id, status in to_resume if status not in policies.get(policy_id, ())}
    if resume_ids:
        resumed = clocks_resume(handoff_ids=resume_ids, at=at, by=PausedBy.STATUS)
    return paused, resumed


def clock_statuses() -> frozenset[str]:
    """Every CRM status that can pause a clock or count as a first touch, under any policy version.

    A lead whose status neither is nor was one of these cannot move a clock, so the sync passes the two
    functions above only the leads that can (a first import of a million leads then asks about a few).
    """
    found: set[str] = set(_working_statuses())
    for pause, touch in SlaPolicy.objects.values_list("pause_statuses", "touch_statuses"):
        found.update(pause or ())
        found.update(touch or ())
    return frozenset(found)


def _working_statuses() -> list[str]:
    return [status for status, meaning in settings.CRM_STATUS_MAP.items() if meaning == "working"]


def clocks_first_touch_by_status(*, lead_ids: Sequence[int], at: datetime | None = None) -> int:
    """Meet the first-touch clock of open handoffs whose lead the CRM moved to a "working" status.

    For the CRM sync, once per page with the lead ids it upserted (idempotent: met clocks are skipped). The
    statuses are the policy's `touch_statuses`, else those CRM_STATUS_MAP calls "working". A status the app
    itself wrote back (accepting writes "Working - Contacted") is an echo of our action, not a touch. The touch
    happened at the lead's CRM modification time (SystemModstamp), not when we noticed it.
    """
    from django.db.models import Exists, OuterRef
    from django.db.models.fields.json import KT

    from handoff.models import WriteBack

    at = at or timezone.now()
    met = 0
    echo = WriteBack.objects.annotate(written_status=KT("changes__Status")).filter(
        lead_id=OuterRef("handoff__lead_id"),
        created_at__gte=OuterRef("handoff__handed_at"),
        written_status=OuterRef("handoff__lead__status"),
    )
    for policy_id, statuses in SlaPolicy.objects.values_list("pk", "touch_statuses"):
        statuses = statuses or _working_statuses()
        clocks = list(
            Milestone.objects.filter(
                kind=K.FIRST_TOUCH,
                met_at__isnull=True,
                stopped_at__isnull=True,
                policy_id=policy_id,
                handoff__state__in=OPEN_STATES,
                handoff__lead_id__any=lead_ids,
                handoff__lead__status__in=statuses,
            )
            .exclude(Exists(echo))
            .annotate(touched_at=F("handoff__lead__crm_modified_at"))
        )
        met += _meet(clocks, {m.handoff_id: min(m.touched_at or at, at) for m in clocks})
    return met


# ---------------------------------------------------------------------------------------------
# Scans: breaches and reminders, one set-based statement per batch, notices written with them
# ---------------------------------------------------------------------------------------------
@dataclass
class ScanResult:
    notice: str
    flagged: list[tuple[int, int, str]] = field(default_factory=list)  # (milestone id, handoff id, kind)
    requeued: list[int] = field(default_factory=list)  # handoff ids the escalation gave back to the queue
    recycled: list[int] = field(default_factory=list)  # handoff ids the escalation recycled

    @property
    def count(self) -> int:
        return len(self.flagged)


# Each notice marks a different column; the selection differs only in which instant must have passed.
_SCANS = {
    NoticeKind.BREACH: {"due": "due_at", "set": "breached_at = m.due_at", "extra": ""},
    NoticeKind.REMINDER: {"due": "remind_at", "set": "reminded_at = %(now)s", "extra": "AND reminded_at IS NULL"},
}


def sla_scan(*, notice: str, now: datetime | None = None, limit: int = SCAN_BATCH) -> ScanResult:
    """Flag up to `limit` running clocks past their due (breach) or reminder time, with their outbox rows.

    PostgreSQL: one statement (data-modifying CTEs) that claims the rows with FOR UPDATE SKIP LOCKED, so
    several scanners share the work without flagging a clock twice, updates them and inserts the notices
    (ON CONFLICT DO NOTHING: the unique (handoff, milestone, kind) makes a notice exactly-once). SQLite, which
    serialises writers, selects the batch and updates it set-based in the same transaction. The sender is
    queued after commit.
    """
    now = now or timezone.now()
    result = ScanResult(notice=str(notice))
    with transaction.atomic():
        if connection.vendor == "postgresql":
            result.flagged = _scan_postgresql(notice, now, limit)
        else:
            result.flagged = _scan_plain(notice, now, limit)
        if result.flagged:
            if notice == NoticeKind.BREACH:
                result.requeued, result.recycled = sla_escalate(
                    milestone_ids=[m for m, _, _ in result.flagged], at=now
                )
            _queue_send_on_commit()
    return result


ESCALATION_REASON = "sla_breach"  # the recycle reason the escalation gives (seeded by migration 0007)

# The breached clocks each escalation acts on. Queue: a lead nobody accepted or touched in time goes back to
# the team queue for someone who will. Recycle: a lead nobody accepted or followed up in time goes back to
# marketing's nurture (a first touch that came late is not a reason to drop a lead the rep is working).
ESCALATION_CLOCKS: dict[str, tuple[str, ...]] = {
    Escalation.QUEUE: (K.ACCEPT, K.FIRST_TOUCH),
    Escalation.RECYCLE: (K.ACCEPT, K.FOLLOW_UP),
}


def _system_may(action: Action) -> frozenset[str]:
    """The states the rules of engagement let the SLA escalation (Party.SYSTEM) take `action` from."""
    return frozenset().union(*(rule.sources for rule in RULES[action] if Party.SYSTEM in rule.parties))


def sla_escalate(*, milestone_ids: Sequence[int], at: datetime | None = None) -> tuple[list[int], list[int]]:
    """Apply the escalation of each breached clock's policy to its handoff, as the system actor, in batches.

    "queue": an accept or first-touch breach gives the handoff back to the team queue (owner None), if a rep
    still holds it; "recycle": an accept or follow-up breach sends the lead back to marketing's nurture with the
    reason `sla_breach`; "notify" does nothing more than the notice. A handoff in a state the rules do not let
    the system act from is left alone (so is one whose breached clock the escalation does not act on); should
    both apply to one handoff (its clocks under different policy versions), recycling wins. Called by the breach
    scan in its transaction, so each breach escalates exactly once: the scan flags a clock once. The event
    notes say which clock ran out. Returns (requeued handoff ids, recycled handoff ids).
    """
    at = at or timezone.now()
    if not milestone_ids or not SlaPolicy.objects.filter(escalation__in=list(ESCALATION_CLOCKS)).exists():
        return [], []  # every policy only notifies: nothing to look up per clock
    acting = Q()
    for escalation, kinds in ESCALATION_CLOCKS.items():
        acting |= Q(policy__escalation=escalation, kind__in=kinds)
    breached: dict[str, dict[int, set[str]]] = {escalation: defaultdict(set) for escalation in ESCALATION_CLOCKS}
    for handoff_id, kind, escalation in Milestone.objects.filter(acting, pk__any=list(milestone_ids)).values_list(
        "handoff_id", "kind", "policy__escalation"
    ):
        breached[escalation][handoff_id].add(kind)
    ids = sorted({handoff_id for by_handoff in breached.values() for handoff_id in by_handoff})
    if not ids:
        return [], []
    # Locked (in id order, as the transitions lock) before their state is read: a state read unlocked could
    # change before the transition's own lock, and its refusal would roll back the whole scan.
    now_in = {
        pk: (state, owner_id)
        for pk, state, owner_id in Handoff.objects.select_for_update(of=("self",))
        .filter(pk__any=ids)
        .order_by("pk")
        .values_list("pk", "state", "owner_id")
    }
    may_recycle, may_reassign = _system_may(Action.RECYCLE), _system_may(Action.REASSIGN)
    recycle = {h: kinds for h, kinds in breached[Escalation.RECYCLE].items() if now_in[h][0] in may_recycle}
    requeue = {
        h: kinds
        for h, kinds in breached[Escalation.QUEUE].items()
        if h not in recycle and now_in[h][0] in may_reassign and now_in[h][1] is not None
    }
    if requeue:
        _address_breach_notices(list(requeue), milestone_ids)
    system = Actor.system()
    requeued = _escalate_in_batches(
        requeue, lambda batch, note: handoffs_reassign(handoffs=batch, actor=system, owner=None, note=note, at=at)
    )
    recycled = _escalate_in_batches(
        recycle,
        lambda batch, note: handoffs_recycle(
            handoffs=batch, actor=system, reason=ESCALATION_REASON, note=note, at=at
        ),
    )
    return requeued, recycled


def _escalate_in_batches(targets: dict[int, set[str]], act) -> list[int]:
    """One batch service call per note (each event says which clock ran out) and per MAX_BATCH handoffs."""
    by_note: dict[str, list[int]] = defaultdict(list)
    for handoff_id, kinds in sorted(targets.items()):
        clocks = " and ".join(K(kind).label.lower() for kind in K.values if kind in kinds)
        by_note[f"SLA breached: {clocks} not within the agreed time."].append(handoff_id)
    done: list[int] = []
    for note, ids in by_note.items():
        for start in range(0, len(ids), MAX_BATCH):
            done += [handoff.pk for handoff in act(ids[start : start + MAX_BATCH], note)]
    return sorted(done)


def _scan_postgresql(notice: str, now: datetime, limit: int) -> list[tuple[int, int, str]]:
    scan = _SCANS[notice]
    m, n = Milestone._meta.db_table, SlaNotification._meta.db_table
    # Raw SQL on purpose: the ORM cannot express UPDATE … (SELECT … SKIP LOCKED) RETURNING with an INSERT …
    # ON CONFLICT in the same statement, which is what makes the scan one round trip per batch. The claimed
    # rows are addressed by their physical location (ctid): they are locked, so it cannot move, and a TID
    # scan reaches them without a second index lookup per row. The UPDATE repeats the running condition so
    # that, should a clock be met between the claim and the update, PostgreSQL's recheck leaves it alone.
    running = "met_at IS NULL AND breached_at IS NULL AND paused_at IS NULL AND stopped_at IS NULL"
    sql = f"""
        WITH due AS (
            SELECT ctid FROM {m}
            WHERE {scan['due']} <= %(now)s AND {running} {scan['extra']}
            ORDER BY {scan['due']}
            LIMIT %(limit)s
            FOR UPDATE SKIP LOCKED
        ), flagged AS (
            UPDATE {m} AS m SET {scan['set']}
            WHERE m.ctid = ANY(ARRAY(SELECT ctid FROM due)) AND {running} {scan['extra']}
            RETURNING m.id, m.handoff_id, m.kind
        ), notices AS (
            INSERT INTO {n} (milestone_id, milestone_kind, kind, status, recipients, attempts, next_attempt_at,
                             last_error, created_at)
            SELECT id, kind, %(notice)s, 'pending', '', 0, %(now)s, '', %(now)s FROM flagged
            ON CONFLICT DO NOTHING
        )
        SELECT id, handoff_id, kind FROM flagged ORDER BY id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"now": now, "limit": limit, "notice": str(notice)})
        return [tuple(row) for row in cursor.fetchall()]


def _scan_plain(notice: str, now: datetime, limit: int) -> list[tuple[int, int, str]]:
    due_field = _SCANS[notice]["due"]
    running = Milestone.objects.filter(RUNNING, **{f"{due_field}__lte": now})
    if notice == NoticeKind.REMINDER:
        running = running.filter(reminded_at__isnull=True)
    flagged = list(running.order_by(due_field).values_list("id", "handoff_id", "kind")[:limit])
    if not flagged:
        return []
    batch = Milestone.objects.filter(pk__any=[row[0] for row in flagged])
    if notice == NoticeKind.BREACH:
        batch.update(breached_at=F("due_at"))
    else:
        batch.update(reminded_at=now)
    SlaNotification.objects.bulk_create(
        [
            SlaNotification(
                milestone_id=pk, milestone_kind=kind, kind=notice, next_attempt_at=now, created_at=now
            )
            for pk, _handoff_id, kind in flagged
        ],
        ignore_conflicts=True,
    )
    return sorted(flagged)


def sla_scan_all(*, now: datetime | None = None, limit: int = SCAN_BATCH, max_batches: int = 100) -> dict[str, int]:
    """Breaches then reminders, batch after batch until none is left (or `max_batches`).

    Returns counts: clocks flagged per notice kind, and handoffs the escalation requeued or recycled.
    """
    counts = {"requeued": 0, "recycled": 0}
    for notice in (NoticeKind.BREACH, NoticeKind.REMINDER):
        total = 0
        for _ in range(max_batches):
            result = sla_scan(notice=notice, now=now, limit=limit)
            total += result.count
            counts["requeued"] += len(result.requeued)
            counts["recycled"] += len(result.recycled)
            if result.count < limit:
                break
        counts[str(notice)] = total
    return counts


def _address_breach_notices(handoff_ids: list[int], milestone_ids: Sequence[int]) -> None:
    """Address the breach notices of handoffs about to go back to the queue to the owner who breached (and
    their manager) now, while the handoff still names that owner."""
    from django.contrib.auth import get_user_model

    from .notifications import people_to_tell

    owners = dict(Handoff.objects.filter(pk__any=handoff_ids).values_list("pk", "owner_id"))
    users = get_user_model().objects.select_related("profile__team__manager").in_bulk(set(owners.values()))
    by_recipients: dict[str, list[int]] = defaultdict(list)
    for handoff_id, owner_id in owners.items():
        by_recipients[", ".join(people_to_tell(users.get(owner_id), breach=True))].append(handoff_id)
    for recipients, ids in by_recipients.items():
        SlaNotification.objects.filter(
            milestone_id__any=list(milestone_ids), milestone__handoff_id__any=ids, kind=NoticeKind.BREACH
        ).update(recipients=recipients)


def _queue_send_on_commit() -> None:
    pending = transaction.get_connection().run_on_commit
    if not any(callback is _queue_send for _, callback, *_ in pending):
        transaction.on_commit(_queue_send)


def _queue_send() -> None:
    # Imported here: the tasks import the services, not the other way round.
    from handoff.tasks.sla import sla_send_notifications

    sla_send_notifications.delay()
