"""A marketer's own MQLs: what they qualified and what they disputed, where each stands now and how it ended."""
from __future__ import annotations

from django import forms
from django.shortcuts import render

from handoff.models import HandoffState, Role
from handoff.selectors.handoffs import MQL_INVOLVEMENT, handoffs_matching, mqls_of_marketer
from handoff.selectors.reference import reasons_by_kind
from handoff.services.actors import Actor

from .common import page, paginate, with_actions, with_deadlines


class MqlFilterForm(forms.Form):
    q = forms.CharField(
        required=False, max_length=200, label="Search",
        widget=forms.SearchInput(attrs={"placeholder": "Name, company or e-mail"}),
    )
    mine = forms.ChoiceField(required=False, label="Mine", choices=[("", "Qualified or disputed by me"),
                                                                   *MQL_INVOLVEMENT.items()])
    state = forms.ChoiceField(required=False, choices=[("", "Any state"), *HandoffState.choices])


@page(Role.MARKETER)
def my_mqls(request):
    form = MqlFilterForm(request.GET)
    data = form.cleaned_data if form.is_valid() else {}
    handoffs = mqls_of_marketer(request.user, involvement=data.get("mine", ""))
    if data.get("state"):
        handoffs = handoffs.filter(state=data["state"])
    handoffs = handoffs_matching(handoffs, data.get("q", ""))
    page_obj = paginate(request, handoffs)
    page_obj.object_list = with_deadlines(with_actions(Actor.person(request.user), page_obj.object_list))
    context = {"page_obj": page_obj, "form": form, "reasons": reasons_by_kind(request.user)}
    return render(request, "handoff/my_mqls.html", context)
