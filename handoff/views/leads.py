"""One lead: its fields, its current handoff with the reader's actions, every episode and the full history."""
from django.shortcuts import get_object_or_404, render

from handoff.models.feedback import RATING_LABELS
from handoff.selectors.feedback import answerable, feedback_requests_of_handoffs, feedback_requests_visible_to
from handoff.selectors.handoffs import lead_history, leads_visible_to
from handoff.selectors.sla import business_time_text, milestones_of_lead
from handoff.services.actors import Actor

from .common import page, reasons_by_kind, with_actions
from .feedback import row_for


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
    # Sales feedback on the lead's handoffs that the reader may read; the reader's own open question as a form.
    feedback = list(
        feedback_requests_of_handoffs([h.pk for h in handoffs]).filter(
            pk__in=feedback_requests_visible_to(request.user).values("pk")
        )
    )
    mine = next((r for r in reversed(feedback) if r.rater_id == request.user.pk and answerable(r)), None)
    context = {
        "lead": lead,
        "milestones": milestones,
        "handoffs": handoffs,
        "current": current,
        "events": lead_history(lead),
        "touches": touches,
        "reasons": reasons_by_kind(),
        "feedback_requests": feedback,
        "feedback_row": row_for(mine) if mine is not None else None,
        "ratings": RATING_LABELS,
    }
    return render(request, "handoff/lead_detail.html", context)
