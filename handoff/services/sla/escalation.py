"""SLA escalation on a breach: the lead goes back to the team queue or to marketing's nurture, as the policy says.

Runs inside the breach scan's transaction, as the system actor, through the state machine (the one writer of
the audit log), so each breach escalates exactly once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from handoff.models import Handoff, Milestone, MilestoneKind, SlaNotification, SlaPolicy
from handoff.models.sla import Escalation, NotificationKind

from ..actors import Actor
from ..handoffs import MAX_BATCH, RULES, Action, Party, handoffs_reassign, handoffs_recycle
from ..notifications import people_to_tell

K = MilestoneKind


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
    if requeued:
        # Imported here: routing restarts SLA clocks, so it imports this package. The rep who breached is skipped.
        from ..routing import routing_requeue

        routing_requeue(breached_by={pk: now_in[pk][1] for pk in requeued}, at=at)
    recycled = _escalate_in_batches(
        recycle,
        lambda batch, note: handoffs_recycle(handoffs=batch, actor=system, reason=ESCALATION_REASON, note=note, at=at),
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


def _address_breach_notices(handoff_ids: list[int], milestone_ids: Sequence[int]) -> None:
    """Address the breach notices of handoffs about to go back to the queue to the owner who breached (and
    their manager) now, while the handoff still names that owner."""
    owners = dict(Handoff.objects.filter(pk__any=handoff_ids).values_list("pk", "owner_id"))
    users = get_user_model().objects.select_related("profile__team__manager").in_bulk(set(owners.values()))
    by_recipients: dict[str, list[int]] = defaultdict(list)
    for handoff_id, owner_id in owners.items():
        by_recipients[", ".join(people_to_tell(users.get(owner_id), breach=True))].append(handoff_id)
    for recipients, ids in by_recipients.items():
        SlaNotification.objects.filter(
            milestone_id__any=list(milestone_ids), milestone__handoff_id__any=ids, kind=NotificationKind.BREACH
        ).update(recipients=recipients)
