"""Versioned agreements (lead definitions, SLA policies, routing rules): one version in force at a time, numbered
N+1 when saved new, validated before it is written, and never changed once it has judged, timed or routed a lead
(each model refuses that in its own `save`)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Model

from handoff.exceptions import InvalidInput


def version_save(instance: Model, *, saved_by=None, frozen_field: str | None = None) -> Model:
    """Validate and save a version (new, or not yet applied); an active one becomes the only one in force.

    A new version without a number gets the next one. Raises InvalidInput naming the field at fault (`frozen_field`
    when the model refuses to change an applied version); nothing is written then.
    """
    model = type(instance)
    with transaction.atomic():
        if instance.pk is None:
            if instance.created_by_id is None and saved_by is not None:
                instance.created_by = saved_by
            if not instance.version:
                instance.version = (model.objects.aggregate(v=Max("version"))["v"] or 0) + 1
        if instance.is_active:
            # First, so that the one-active constraint holds when the version is validated (rolled back with it).
            model.objects.filter(is_active=True).exclude(pk=instance.pk).update(is_active=False)
        try:
            instance.full_clean()
        except ValidationError as exc:
            field, messages = next(iter(exc.message_dict.items()))
            raise InvalidInput(" ".join(messages), field=None if field == "__all__" else field) from exc
        try:
            instance.save()
        except ValidationError as exc:  # a term of an applied version changed
            raise InvalidInput(" ".join(exc.messages), field=frozen_field) from exc
    return instance


def version_activate(instance: Model) -> Model:
    """Make this version the one in force; exactly one is active at a time."""
    model = type(instance)
    with transaction.atomic():
        model.objects.filter(is_active=True).exclude(pk=instance.pk).update(is_active=False)
        model.objects.filter(pk=instance.pk).update(is_active=True)
    instance.refresh_from_db()
    return instance
