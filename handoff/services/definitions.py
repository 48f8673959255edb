"""Lead definitions: revise (a used version is never edited: a new one is created) and activate."""
from __future__ import annotations

from django.db import transaction
from django.db.models import Max

from handoff.exceptions import InvalidInput
from handoff.models import LeadDefinition
from handoff.rules import parse_conditions
from handoff.services.versions import version_activate


def _validated(conditions) -> list:
    try:
        parse_conditions(conditions)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="conditions") from exc
    return conditions


def definition_create(*, name: str, conditions: list, description: str = "", created_by=None,
                      activate: bool = False) -> LeadDefinition:
    with transaction.atomic():
        version = (LeadDefinition.objects.aggregate(v=Max("version"))["v"] or 0) + 1
        definition = LeadDefinition.objects.create(
            version=version, name=name, description=description, conditions=_validated(conditions),
            created_by=created_by,
        )
        if activate:
            definition_activate(definition=definition)
    return definition


def definition_revise(*, definition: LeadDefinition, conditions: list, name: str | None = None,
                      description: str | None = None, revised_by=None) -> LeadDefinition:
    """Change the criteria: in place while the version has judged nobody, else as version N+1.

    The new version takes over as the active one if the revised version was active.
    """
    _validated(conditions)
    with transaction.atomic():
        definition = LeadDefinition.objects.select_for_update().get(pk=definition.pk)
        if not definition.has_judged:
            definition.conditions = conditions
            definition.name = name or definition.name
            definition.description = definition.description if description is None else description
            definition.save()
            return definition
        return definition_create(
            name=name or definition.name,
            description=definition.description if description is None else description,
            conditions=conditions,
            created_by=revised_by,
            activate=definition.is_active,
        )


def definition_activate(*, definition: LeadDefinition) -> LeadDefinition:
    """Make this version the one in force; exactly one is active at a time."""
    return version_activate(definition)
