"""Routing rules versions: saved and activated as one set of rules in force at a time; a version that routed a lead
never changes (the model refuses), so revising it means saving version N+1."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from handoff.exceptions import InvalidInput
from handoff.models import RoutingRules, Team


def routing_rules_save(*, rules: RoutingRules, saved_by=None) -> RoutingRules:
    """Validate and save a version (new, or not yet applied); an active one becomes the only one in force.

    A new version without a number gets the next one. Teams named in territories are stored as their ids. Raises
    InvalidInput naming the field at fault; nothing is written then.
    """
    with transaction.atomic():
        if rules.pk is None:
            if rules.created_by_id is None and saved_by is not None:
                rules.created_by = saved_by
            if not rules.version:
                rules.version = (RoutingRules.objects.aggregate(v=Max("version"))["v"] or 0) + 1
        if rules.is_active:
            # First, so that the one-active constraint holds when the version is validated (rolled back with it).
            RoutingRules.objects.filter(is_active=True).exclude(pk=rules.pk).update(is_active=False)
        try:
            rules.full_clean()
        except ValidationError as exc:
            field, messages = next(iter(exc.message_dict.items()))
            raise InvalidInput(" ".join(messages), field=None if field == "__all__" else field) from exc
        try:
            rules.save()
        except ValidationError as exc:  # a term of an applied version changed
            raise InvalidInput(" ".join(exc.messages), field="territories") from exc
    return rules


def routing_rules_revise(
    *,
    rules: RoutingRules,
    territories: list,
    catch_all_team: Team | None = None,
    name: str | None = None,
    description: str | None = None,
    revised_by=None,
) -> RoutingRules:
    """Change the rules: in place while the version has routed nobody, else as version N+1 (active if it was)."""
    with transaction.atomic():
        current = RoutingRules.objects.select_for_update().get(pk=rules.pk)
        target = current if not current.is_applied else RoutingRules(
            is_active=current.is_active, description=current.description, created_by=revised_by
        )
        target.name = name or current.name
        target.description = current.description if description is None else description
        target.territories = territories
        target.catch_all_team = catch_all_team or current.catch_all_team
        return routing_rules_save(rules=target, saved_by=revised_by)


def routing_rules_activate(*, rules: RoutingRules) -> RoutingRules:
    """Make this version the one in force; exactly one is active at a time."""
    with transaction.atomic():
        RoutingRules.objects.filter(is_active=True).exclude(pk=rules.pk).update(is_active=False)
        RoutingRules.objects.filter(pk=rules.pk).update(is_active=True)
    rules.refresh_from_db()
    return rules
