"""One lead: its fields, its current handoff with the reader's actions, every episode and the full history."""
from django.shortcuts import get_object_or_404, render

from handoff.selectors.handoffs import lead_history, leads_visible_to
from handoff.selectors.sla import business_time_text, milestones_of_lead
from handoff.services.actors import Actor

from .common import page, reasons_by_kind, with_actions


@page()
def lead_detail(request, pk: int):
    lead = get_object_or_404(leads_visible_to(request.user), pk=pk)
    handoffs = with_actions(
        Actor.person(request.user),
        lead.handoffs.select_related(
            "owner__profile", "definition", "reason", "dispute_reason", "qualified_by"
        ).prefetch_related("touches__by").order_by("sequence"),
    )
    current = next((h for h in reversed(handoffs) if h.is_open), None)
    touches = sorted(
        ((h, touch) for h in handoffs for touch in h.touches.all()), key=lambda pair: pair[1].at, reverse=True
    )
    milestones = list(milestones_of_lead(lead))
    for milestone in milestones:
        milestone.status_text = business_time_text(milestone)
    context = {
        "lead": lead,
        "milestones": milestones,
        "handoffs": handoffs,
        "current": current,
        "events": lead_history(lead),
        "touches": touches,
        "reasons": reasons_by_kind(),
    }
    return render(request, "handoff/lead_detail.html", context)
