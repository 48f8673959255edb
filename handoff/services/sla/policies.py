"""SLA policy versions: saved and activated as one agreement in force at a time; a version that timed a handoff
never changes (the model refuses), so revising it means saving version N+1."""

from __future__ import annotations

from handoff.models import SlaPolicy
from handoff.services.versions import version_save


def sla_policy_save(*, policy: SlaPolicy, saved_by=None) -> SlaPolicy:
    """Validate and save a policy version (new or not yet applied); an active one becomes the only one in force.

    A new version without a number gets the next one. Raises InvalidInput naming the field at fault.
    """
    return version_save(policy, saved_by=saved_by)
