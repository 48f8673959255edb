"""Marketing's pages: leads to qualify, and rejected handoffs to dispute or recycle."""
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from handoff.exceptions import DomainError
from handoff.forms import LeadSearchForm, NoteForm
from handoff.models import HandoffState, Role
from handoff.selectors.handoffs import handoffs_visible_to, leads_unqualified, leads_visible_to
from handoff.services.actors import Actor
from handoff.services.handoffs import handoff_qualify

from .common import back_url, page, paginate, person_name, reasons_by_kind, with_actions


@page(Role.MARKETER)
def leads_to_qualify(request):
    search = LeadSearchForm(request.GET)
    query = search.cleaned_data["q"] if search.is_valid() else ""
    leads = paginate(request, leads_unqualified(search=query))
    return render(request, "handoff/leads_to_qualify.html", {"search": search, "query": query, "page_obj": leads})


@require_POST
@page(Role.MARKETER)
def lead_qualify(request, pk: int):
    lead = get_object_or_404(leads_visible_to(request.user), pk=pk)
    form = NoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Could not qualify {lead}: {form.errors['note'][0]}")
        return redirect(back_url(request, "leads_to_qualify"))
    try:
        handoff = handoff_qualify(lead=lead, actor=Actor.person(request.user), note=form.cleaned_data["note"])
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        owner = person_name(handoff.owner) if handoff.owner else "the queue"
        messages.success(request, f"Qualified {lead}: handed to {owner}.")
    return redirect(back_url(request, "leads_to_qualify"))


@page(Role.MARKETER)
def rejected_handoffs(request):
    handoffs = (
        handoffs_visible_to(request.user)
        .filter(state=HandoffState.REJECTED)
        .select_related("owner__profile")
        .order_by("-rejected_at", "-id")
    )
    page_obj = paginate(request, handoffs)
    page_obj.object_list = with_actions(Actor.person(request.user), page_obj.object_list)
    return render(request, "handoff/rejected.html", {"page_obj": page_obj, "reasons": reasons_by_kind()})
