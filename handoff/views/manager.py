"""The manager's pages: the team's handoffs, and disputes to resolve."""
from django.contrib.auth import get_user_model
from django.shortcuts import render

from handoff.forms import TeamFilterForm
from handoff.models import Role
from handoff.selectors.handoffs import disputes_to_resolve, handoffs_visible_to
from handoff.services.actors import Actor

from .common import page, paginate, reasons_by_kind, with_actions


@page(Role.MANAGER)
def team_handoffs(request):
    visible = handoffs_visible_to(request.user).select_related("owner__profile")
    reps = get_user_model().objects.filter(pk__in=visible.values("owner")).order_by("first_name", "username")
    filters = TeamFilterForm(request.GET, reps=reps)
    handoffs = visible.order_by("-handed_at", "-id")
    if filters.is_valid():
        if filters.cleaned_data["state"]:
            handoffs = handoffs.filter(state=filters.cleaned_data["state"])
        if filters.cleaned_data["rep"]:
            handoffs = handoffs.filter(owner=filters.cleaned_data["rep"])
    page_obj = paginate(request, handoffs)
    page_obj.object_list = with_actions(Actor.person(request.user), page_obj.object_list)
    return render(
        request, "handoff/team.html", {"page_obj": page_obj, "filters": filters, "reasons": reasons_by_kind()}
    )


@page(Role.MANAGER)
def disputes(request):
    page_obj = paginate(request, disputes_to_resolve(request.user).select_related("owner__profile"))
    page_obj.object_list = with_actions(Actor.person(request.user), page_obj.object_list)
    return render(request, "handoff/disputes.html", {"page_obj": page_obj})
