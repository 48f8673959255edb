"""SLA policy versions: saved and activated as one agreement in force at a time; a version that timed a handoff
never changes (the model refuses), so revising it means saving version N+1."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from handoff.exceptions import InvalidInput
from handoff.models import SlaPolicy


def sla_policy_save(*, policy: SlaPolicy, saved_by=None) -> SlaPolicy:
    """Validate and save a policy version (new or not yet applied); an active one becomes the only one in force.

    A new version without a number gets the next one. Raises InvalidInput naming the field at fault.
    """
    with transaction.atomic():
        if policy.pk is None:
            if policy.created_by_id is None and saved_by is not None:
                policy.created_by = saved_by
            if not policy.version:
                policy.version = (SlaPolicy.objects.aggregate(v=Max("version"))["v"] or 0) + 1
        if policy.is_active:
            # First, so that the one-active constraint holds when the policy is validated (rolled back with it).
            SlaPolicy.objects.filter(is_active=True).exclude(pk=policy.pk).update(is_active=False)
        try:
            policy.full_clean()
        except ValidationError as exc:
            field, messages = next(iter(exc.message_dict.items()))
            raise InvalidInput(" ".join(messages), field=None if field == "__all__" else field) from exc
        try:
            policy.save()
        except ValidationError as exc:  # a term of an applied version changed
            raise InvalidInput(" ".join(exc.messages)) from exc
    return policy
