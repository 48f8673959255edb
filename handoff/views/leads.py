"""One lead: its fields, its current handoff with the reader's actions, every episode and the full history."""
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone

from handoff.exceptions import DomainError
from handoff.models import HandoffState
from handoff.models.feedback import RATING_LABELS
from handoff.selectors.feedback import answerable, feedback_of_lead
from handoff.selectors.handoffs import lead_handoffs, lead_history, lead_to_show
from handoff.selectors.reference import business_calendars, reasons_by_kind
from handoff.selectors.sla import business_time_text, milestones_of_lead
from handoff.services.actors import Actor
from handoff.services.handoffs import Action, Decision, check

from .common import page, with_actions
from .feedback import row_for


@page()
def lead_detail(request, pk: int):
    lead = lead_to_show(request.user, pk)
    if lead is None:
        raise Http404("No such lead.")
    handoffs = with_actions(Actor.person(request.user), lead_handoffs(lead))
    current = next((h for h in reversed(handoffs) if h.is_open), None)
    touches = sorted(
        ((h, touch) for h in handoffs for touch in h.touches.all()), key=lambda pair: pair[1].at, reverse=True
    )
    milestones = milestones_of_lead(lead)
    now = timezone.now()
    running = {m.calendar_id for m in milestones if m.met_at is None and m.stopped_at is None}
    calendars = business_calendars(request.user, running)
    for milestone in milestones:
        milestone.status_text = business_time_text(milestone, now, calendars)
    # Sales feedback on the lead's handoffs that the reader may read; the reader's own open question as a form.
    feedback = feedback_of_lead(lead.pk, request.user)
    mine = next((r for r in reversed(feedback) if r.rater_id == request.user.pk and answerable(r)), None)
    events = lead_history(lead)
    actor = Actor.person(request.user)
    context = {
        "lead": lead,
        "milestones": milestones,
        "handoffs": handoffs,
        "current": current,
        "events": events,
        "touches": touches,
        "reasons": reasons_by_kind(request.user),
        "feedback_requests": feedback,
        "feedback_row": row_for(mine) if mine is not None else None,
        "ratings": RATING_LABELS,
    }
    if current is not None:
        context.update(_current_state(current, actor, milestones, events))
    return render(request, "handoff/lead_detail.html", context)


def _current_state(current, actor: Actor, milestones: list, events: list) -> dict:
    """What the current handoff's box says beyond its state: an overturned rejection, paused clocks, and whether the
    reader may pause or resume its clocks (the owner's manager; the rules also let the owner)."""
    mine = [e for e in events if e.handoff_id == current.pk]
    overturned = None
    if current.state not in (HandoffState.REJECTED, HandoffState.DISPUTED):
        resolved = [e for e in mine if e.action == Action.RESOLVE and e.data.get("decision") == Decision.OVERTURN]
        if resolved:
            rejected = [e for e in mine if e.action == Action.REJECT and e.at <= resolved[-1].at]
            overturned = {"event": resolved[-1], "rejected": rejected[-1].reason if rejected else None}
    clocks = [m for m in milestones if m.handoff_id == current.pk and m.met_at is None and m.stopped_at is None]
    paused = any(m.paused_at is not None for m in clocks)
    running = any(m.paused_at is None and m.breached_at is None for m in clocks)
    clock_action = None
    wanted = Action.RESUME if paused else Action.PAUSE if running else None
    if wanted is not None:
        try:
            check(wanted, actor, current)
        except DomainError:
            pass
        else:
            clock_action = str(wanted)
    pauses = [e for e in mine if e.action in (Action.PAUSE, Action.RESUME)]
    paused_note = pauses[-1].note if paused and pauses and pauses[-1].action == Action.PAUSE else ""
    return {"overturned": overturned, "clocks_paused": paused, "paused_note": paused_note, "clock_action": clock_action}
