"""The routing page: a manager sees their team's routing (who is active, away, capped; leads today against their
share; the queue), sets a rep away and changes weights and caps; a rep sees their own and sets themselves away."""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from handoff.exceptions import DomainError
from handoff.models import Role
from handoff.models.routing import MAX_CAP, MAX_WEIGHT
from handoff.selectors.people import user_roles
from handoff.selectors.routing import (
    active_routing_rules,
    away_periods_visible_to,
    routing_pool,
    routing_teams_for,
    team_board,
)
from handoff.services.actors import Actor
from handoff.services.routing import away_period_cancel, away_period_set, rep_routing_update, team_routing_update

from .common import page, person_name


class AwayForm(forms.Form):
    rep = forms.IntegerField(required=False)
    starts_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(required=False, max_length=200)


class ShareForm(forms.Form):
    weight = forms.IntegerField(min_value=1, max_value=MAX_WEIGHT)
    daily_cap = forms.IntegerField(required=False, min_value=1, max_value=MAX_CAP)
    open_cap = forms.IntegerField(required=False, min_value=1, max_value=MAX_CAP)


def _first_error(form: forms.Form) -> str:
    field, errors = next(iter(form.errors.items()))
    return f"{field.replace('_', ' ')}: {errors[0]}" if field != "__all__" else errors[0]


@page(Role.MANAGER, Role.SALES_REP)
def routing_page(request):
    """GET: the routing of the teams you manage, and your own if you are a rep."""
    now = timezone.now()
    user = request.user
    boards = [team_board(team, now) for team in routing_teams_for(user)]
    for board in boards:
        board["queue"] = list(board["queue"][:100])
    mine = None
    if Role.SALES_REP in user_roles(user):
        team_id = getattr(getattr(user, "profile", None), "team_id", None)
        if team_id is not None:
            mine = next((r for r in routing_pool([team_id], now)[team_id] if r.user_id == user.pk), None)
    context = {
        "boards": boards,
        "mine": mine,
        "periods": list(away_periods_visible_to(user).filter(ends_on__gte=now.date()).order_by("starts_on", "id")),
        "rules": active_routing_rules(),
        "today": now.date().isoformat(),
    }
    return render(request, "handoff/routing.html", context)


@require_POST
@page(Role.MANAGER, Role.SALES_REP)
def routing_away(request):
    """POST: set a rep (yourself, or one of your team) away from one date to another."""
    form = AwayForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Nobody was set away. {_first_error(form)}")
        return redirect("routing")
    data = form.cleaned_data
    rep = data["rep"] or request.user.pk
    try:
        period = away_period_set(rep=rep, actor=Actor.person(request.user), starts_on=data["starts_on"],
                                 ends_on=data["ends_on"], note=data["note"])
    except DomainError as exc:
        messages.error(request, f"Nobody was set away. {exc.message}")
        return redirect("routing")
    messages.success(
        request, f"{person_name(period.user)} is away from {period.starts_on:%b %-d} to {period.ends_on:%b %-d}: "
        "no leads are routed to them meanwhile."
    )
    return redirect("routing")


@require_POST
@page(Role.MANAGER, Role.SALES_REP)
def routing_away_cancel(request, pk: int):
    """POST: remove an away period (the rep is back, or plans changed)."""
    period = away_periods_visible_to(request.user).filter(pk=pk).first()
    if period is None:
        raise Http404("No such away period.")
    try:
        away_period_cancel(period=period, actor=Actor.person(request.user))
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("routing")
    messages.success(request, f"{person_name(period.user)} is no longer away {period.starts_on:%b %-d}–"
                              f"{period.ends_on:%b %-d}.")
    return redirect("routing")


@require_POST
@page(Role.MANAGER)
def routing_rep(request, pk: int):
    """POST: change a rep's weight and caps (their manager)."""
    rep = get_user_model().objects.filter(pk=pk, profile__team__in=routing_teams_for(request.user)).first()
    if rep is None:
        raise Http404("No such rep in your teams.")
    form = ShareForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Nothing was changed. {_first_error(form)}")
        return redirect("routing")
    try:
        rep_routing_update(rep=rep, actor=Actor.person(request.user), **form.cleaned_data)
    except DomainError as exc:
        messages.error(request, f"Nothing was changed. {exc.message}")
        return redirect("routing")
    messages.success(request, f"{person_name(rep)}'s share is saved.")
    return redirect("routing")


@require_POST
@page(Role.MANAGER)
def routing_team(request, pk: int):
    """POST: whether the team's reps outside their working hours get leads (its manager)."""
    team = routing_teams_for(request.user).filter(pk=pk).first()
    if team is None:
        raise Http404("No such team of yours.")
    skip = request.POST.get("skip_outside_hours") in ("on", "true", "1")
    try:
        team_routing_update(team=team, actor=Actor.person(request.user), skip_outside_hours=skip)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("routing")
    messages.success(
        request, f"{team}: reps outside their working hours {'get no leads' if skip else 'get leads too'}."
    )
    return redirect("routing")
