"""Reps' routing settings: their weight and caps (set by their manager), their away periods (set by themselves or their
manager), and a team's setting (by its manager)."""

from __future__ import annotations

from datetime import date

from django.contrib.auth import get_user_model
from django.db import transaction

from handoff.exceptions import InvalidInput, NotAllowed
from handoff.models import AwayPeriod, RepProfile, RepRouting, Role, Team, TeamRouting
from handoff.models.routing import MAX_AWAY_DAYS, MAX_CAP, MAX_WEIGHT
from handoff.selectors.people import user_has_role

from ..actors import Actor

UNSET = object()


def _rep(rep, field: str = "rep"):
    """The sales rep, by user or id; InvalidInput naming `field` when there is none such."""
    User = get_user_model()
    user = rep if isinstance(rep, User) else User.objects.filter(pk=rep).first() if isinstance(rep, int) else None
    if user is None or not user_has_role(user, Role.SALES_REP):
        raise InvalidInput(f"No sales rep with id {getattr(user, 'pk', rep)!r}.", field=field)
    return user


def _team_id(user) -> int | None:
    return RepProfile.objects.filter(user=user).values_list("team_id", flat=True).first()


def _may_manage(actor: Actor, rep) -> bool:
    if actor.user is not None and actor.user.is_staff:
        return True
    team_id = _team_id(rep)
    return team_id is not None and team_id in actor.managed_team_ids


def _whole(value, field: str, *, low: int, high: int, optional: bool):
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        empty = " or empty for none" if optional else ""
        raise InvalidInput(f"{field} must be a whole number from {low} to {high}{empty}.", field=field)
    return value


def rep_routing_update(*, rep, actor: Actor, weight=UNSET, daily_cap=UNSET, open_cap=UNSET) -> RepRouting:
    """Change a rep's weight (a share: ≥ 1) and caps (empty: none): their team's manager, or an admin."""
    user = _rep(rep)
    if not _may_manage(actor, user):
        raise NotAllowed("Only the rep's manager can change their weight and caps.", code="forbidden_role")
    changes = {}
    if weight is not UNSET:
        changes["weight"] = _whole(weight, "weight", low=1, high=MAX_WEIGHT, optional=False)
    if daily_cap is not UNSET:
        changes["daily_cap"] = _whole(daily_cap, "daily_cap", low=1, high=MAX_CAP, optional=True)
    if open_cap is not UNSET:
        changes["open_cap"] = _whole(open_cap, "open_cap", low=1, high=MAX_CAP, optional=True)
    with transaction.atomic():
        RepRouting.objects.bulk_create([RepRouting(user=user)], ignore_conflicts=True)
        routing = RepRouting.objects.select_for_update().get(pk=user.pk)
        for name, value in changes.items():
            setattr(routing, name, value)
        if changes:
            routing.save(update_fields=[*changes, "updated_at"])
    return routing


def away_period_set(*, rep, actor: Actor, starts_on: date, ends_on: date, note: str = "") -> AwayPeriod:
    """Mark a rep out of office from one date to another (both included, in the rep's zone): the rep, or their manager.

    No lead is routed to them meanwhile; back, they take their share from then on (never a backlog).
    """
    user = _rep(rep)
    if not (actor.user is not None and actor.user.pk == user.pk) and not _may_manage(actor, user):
        raise NotAllowed("Only the rep or their manager can set them away.", code="forbidden_role")
    if not isinstance(starts_on, date):
        raise InvalidInput("starts_on must be a date (YYYY-MM-DD).", field="starts_on")
    if not isinstance(ends_on, date):
        raise InvalidInput("ends_on must be a date (YYYY-MM-DD).", field="ends_on")
    if ends_on < starts_on:
        raise InvalidInput("An away period cannot end before it starts.", field="ends_on")
    if (ends_on - starts_on).days > MAX_AWAY_DAYS:
        raise InvalidInput(f"An away period lasts at most {MAX_AWAY_DAYS} days.", field="ends_on")
    note = (note or "").strip()
    if len(note) > 200:
        raise InvalidInput("The note is at most 200 characters.", field="note")
    return AwayPeriod.objects.create(user=user, starts_on=starts_on, ends_on=ends_on, note=note, set_by=actor.user)


def away_period_cancel(*, period: AwayPeriod, actor: Actor) -> None:
    """Remove an away period (the rep is back, or plans changed): the rep, or their manager."""
    if not (actor.user is not None and actor.user.pk == period.user_id) and not _may_manage(actor, period.user):
        raise NotAllowed("Only the rep or their manager can change their away periods.", code="forbidden_role")
    AwayPeriod.objects.filter(pk=period.pk).delete()


def team_routing_update(*, team: Team, actor: Actor, skip_outside_hours: bool) -> TeamRouting:
    """A team's setting: whether reps outside their working hours get leads. Its manager, or an admin."""
    if not ((actor.user is not None and actor.user.is_staff) or team.pk in actor.managed_team_ids):
        raise NotAllowed("Only the team's manager can change its routing.", code="forbidden_role")
    if not isinstance(skip_outside_hours, bool):
        raise InvalidInput("skip_outside_hours must be true or false.", field="skip_outside_hours")
    routing, _ = TeamRouting.objects.update_or_create(team=team, defaults={"skip_outside_hours": skip_outside_hours})
    return routing
