"""Marketing's pages: leads to qualify, and rejected handoffs to dispute or recycle."""
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from handoff.exceptions import DomainError
from handoff.forms import BulkQualifyForm, LeadSearchForm, NoteForm
from handoff.models import HandoffState, Role
from handoff.selectors.handoffs import handoffs_visible_to, leads_unqualified, leads_visible_to
from handoff.selectors.reference import reasons_by_kind
from handoff.services.actors import Actor
from handoff.services.handoffs import handoff_qualify, leads_qualify

from .common import (
    back_url,
    bulk_done_message,
    lead_link,
    page,
    paginate_by_id,
    paginate_uncounted,
    person_name,
    with_actions,
)

# The columns a row of the leads to qualify shows (templatetags.handoff_rows.lead_to_qualify_row).
LEAD_TO_QUALIFY_ROW = (
    "id", "crm_id", "first_name", "last_name", "company", "title", "email", "lead_source", "score", "crm_created_at",
    "owner__first_name", "owner__last_name", "owner__username",
)


@page(Role.MARKETER)
def leads_to_qualify(request):
    """GET lists the leads to qualify; POST qualifies the ticked ones (bulk qualify), all or none."""
    search = LeadSearchForm(request.GET)
    query = search.cleaned_data["q"] if search.is_valid() else ""
    # Only the columns a row shows: a lead's CRM record and the owner's account are most of its bytes.
    unqualified = leads_unqualified(search=query).only(*LEAD_TO_QUALIFY_ROW)
    status, bulk = 200, None
    if request.method == "POST":
        bulk = BulkQualifyForm(request.POST, lead_ids=_ticked_ids(request, "leads"))
        status = _bulk_qualify(request, bulk)
        if status == 200:
            return redirect(request.get_full_path())
    leads = paginate_uncounted(request, unqualified)
    context = {
        "search": search,
        "query": query,
        "page_obj": leads,
        "bulk": bulk,
        "ticked": {str(pk) for pk in request.POST.getlist("leads")} if bulk is not None else set(),
    }
    return render(request, "handoff/leads_to_qualify.html", context, status=status)


def _ticked_ids(request, name: str) -> list[int]:
    """The ticked ids that are still leads to qualify (one query however many are ticked)."""
    ids = [int(value) for value in request.POST.getlist(name) if value.isdigit() and len(value) < 19]
    return list(leads_unqualified().filter(pk__in=ids).values_list("pk", flat=True)) if ids else []


def _bulk_qualify(request, form: BulkQualifyForm) -> int:
    if not form.is_valid():
        for error in form.errors.get("leads", []):
            messages.error(request, f"Nothing was qualified. {error}")
        return 400
    try:
        created = leads_qualify(
            lead_ids=form.cleaned_data["leads"], actor=Actor.person(request.user), note=form.cleaned_data["note"]
        )
    except DomainError as exc:
        messages.error(request, f"Nothing was qualified. {exc.message}")
        return exc.status
    messages.success(request, bulk_done_message("Qualified", created))
    return 200


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
        messages.success(request, lead_link(f"Qualified {lead}: handed to {owner}; it is on My MQLs.", lead.pk))
    return redirect(back_url(request, "leads_to_qualify"))


@page(Role.MARKETER)
def rejected_handoffs(request):
    handoffs = handoffs_visible_to(request.user).select_related("owner__profile")
    rejected = handoffs.filter(state=HandoffState.REJECTED).order_by("-rejected_at", "-id")
    page_obj = paginate_by_id(request, rejected, handoffs.defer("lead__raw"))
    page_obj.object_list = with_actions(Actor.person(request.user), page_obj.object_list)
    return render(request, "handoff/rejected.html", {"page_obj": page_obj, "reasons": reasons_by_kind(request.user)})
