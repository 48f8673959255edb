"""Routing rules versions: saved and activated as one set of rules in force at a time; a version that routed a lead
never changes (the model refuses), so revising it means saving version N+1."""

from __future__ import annotations

from django.db import transaction

from handoff.models import RoutingRules, Team
from handoff.services.versions import version_activate, version_save


def routing_rules_save(*, rules: RoutingRules, saved_by=None) -> RoutingRules:
    """Validate and save a version (new, or not yet applied); an active one becomes the only one in force.

    A new version without a number gets the next one. Teams named in territories are stored as their ids. Raises
    InvalidInput naming the field at fault; nothing is written then.
    """
    return version_save(rules, saved_by=saved_by, frozen_field="territories")


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
    return version_activate(rules)
