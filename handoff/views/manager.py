"""The manager's pages: the team's handoffs (with deadlines, a breached filter, assign and reassign, single and in
bulk), and disputes to resolve."""
from django.contrib import messages
from django.shortcuts import redirect, render

from handoff.exceptions import DomainError
from handoff.forms import BulkReassignForm, TeamFilterForm
from handoff.models import Role
from handoff.models.handoffs import OPEN_STATES
from handoff.selectors.handoffs import disputes_to_resolve, handoffs_matching, handoffs_visible_to, visibility
from handoff.selectors.people import reps_managed_by
from handoff.selectors.reference import reasons_by_kind
from handoff.selectors.sla import handoffs_breached
from handoff.services.actors import Actor
from handoff.services.handoffs import handoffs_reassign

from .common import (
    bulk_done_message,
    handoff_rows,
    page,
    paginate,
    paginate_by_id,
    person_name,
    with_actions,
    with_deadlines,
    with_row_actions,
)


def _filtered(visible, filters: TeamFilterForm):
    handoffs = visible.order_by("-handed_at", "-id")
    if not filters.is_valid():
        return handoffs
    data = filters.cleaned_data
    if data["q"]:
        handoffs = handoffs_matching(handoffs, data["q"])
    if data["state"]:
        handoffs = handoffs.filter(state=data["state"])
    if data["rep"] == TeamFilterForm.QUEUE:
        handoffs = handoffs.filter(owner__isnull=True)
    elif data["rep"]:
        handoffs = handoffs.filter(owner_id=int(data["rep"]))
    if data["breached"]:
        handoffs = handoffs_breached(handoffs, data["breached"] == "yes")
    return handoffs


def _shape(user, filters: TeamFilterForm) -> tuple | None:
    """Every input of `_filtered` for this reader, as a value (None: a search's words, read as built)."""
    if not filters.is_valid():
        return ("team", visibility(user))
    data = filters.cleaned_data
    if data["q"]:
        return None
    return ("team", visibility(user), data["state"], data["rep"], data["breached"])


def _bulk_reassign(request, visible, reps):
    """POST: give the ticked open handoffs to one rep (or the queue), all or none. Returns (form, status, done)."""
    ids = list(visible.filter(state__in=OPEN_STATES).values_list("pk", flat=True))
    form = BulkReassignForm(request.POST, handoff_ids=ids, reps=reps)
    if not form.is_valid():
        for error in form.errors.get("handoffs", []):
            messages.error(request, f"Nothing was assigned. {error}")
        return form, 400, False
    owner = form.cleaned_data["owner"]
    try:
        done = handoffs_reassign(
            handoffs=form.cleaned_data["handoffs"], actor=Actor.person(request.user), owner=owner,
            note=form.cleaned_data["note"],
        )
    except DomainError as exc:
        messages.error(request, f"Nothing was assigned. {exc.message}")
        return form, exc.status, False
    to = person_name(owner) if owner is not None else "the queue"
    messages.success(request, bulk_done_message("Assigned", done, f" to {to}"))
    return form, 200, True


@page(Role.MANAGER)
def team_handoffs(request):
    """GET lists the team's handoffs and the queue, newest first; POST assigns the ticked ones to a rep."""
    visible = handoffs_visible_to(request.user).select_related("owner__profile")
    reps = list(reps_managed_by(request.user))
    filters = TeamFilterForm(request.GET, reps=reps)
    status, bulk = 200, None
    if request.method == "POST":
        bulk, status, done = _bulk_reassign(request, visible, reps)
        if done:
            return redirect(request.get_full_path())
    # A search is paged newer / older, uncounted: counting its matches scans every lead it might match.
    searching = bool(filters.is_valid() and filters.cleaned_data.get("q"))
    page_obj = paginate_by_id(request, _filtered(visible, filters), handoff_rows(names=True), counted=not searching,
                              shape=_shape(request.user, filters))
    rows = with_row_actions(Actor.person(request.user), page_obj.object_list)
    page_obj.object_list = with_deadlines(rows, request.user)
    context = {
        "page_obj": page_obj,
        "filters": filters,
        "reasons": reasons_by_kind(request.user),
        "reps": reps,
        "can_assign": True,
        "bulk": bulk,
        "ticked": {str(pk) for pk in request.POST.getlist("handoffs")} if bulk is not None else set(),
        "filtered": any(request.GET.get(name) for name in ("q", "state", "rep", "breached")),
    }
    return render(request, "handoff/team.html", context, status=status)


@page(Role.MANAGER)
def disputes(request):
    page_obj = paginate(request, disputes_to_resolve(request.user).select_related("owner__profile"))
    page_obj.object_list = with_actions(Actor.person(request.user), page_obj.object_list)
    return render(request, "handoff/disputes.html", {"page_obj": page_obj})
