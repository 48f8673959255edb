"""SLA milestones moved by the CRM: a lead's status pauses or resumes them, a "working" status is a first touch.

Called by the CRM sync once per page with the leads it upserted, set-based; a status that neither is nor was one
that can move a milestone costs nothing (`crm_statuses_moving_milestones`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.conf import settings
from django.db.models import Exists, F, OuterRef
from django.db.models.fields.json import KT
from django.utils import timezone

from handoff.models import Handoff, Milestone, MilestoneKind, SlaPolicy, WriteBack
from handoff.models.handoffs import OPEN_STATES
from handoff.models.sla import RUNNING, PausedBy

from .milestones import _meet, milestones_pause, milestones_resume

K = MilestoneKind


def milestones_follow_crm_status(*, lead_ids: Sequence[int], at: datetime | None = None) -> tuple[int, int]:
    """Pause or resume clocks after a sync upserted these leads: a lead whose CRM status is one of its policy's
    pause statuses pauses, one that left them resumes (clocks paused by hand stay paused).

    For the CRM sync, once per page with the page's lead ids; set-based. Returns (paused, resumed).
    """
    at = at or timezone.now()
    paused = resumed = 0
    policies = {pk: statuses for pk, statuses in SlaPolicy.objects.values_list("pk", "pause_statuses") if statuses}
    # Clocks of a policy without pause statuses never pause by status; one that did may still need resuming.
    for policy_id, statuses in policies.items():
        to_pause = (
            Milestone.objects.filter(
                RUNNING, policy_id=policy_id, handoff__lead_id__any=lead_ids, handoff__lead__status__in=statuses
            )
            .values_list("handoff_id", flat=True)
            .distinct()
        )
        ids = list(to_pause)
        if ids:
            paused += milestones_pause(handoff_ids=ids, at=at, by=PausedBy.STATUS)
            _changed(ids)
    to_resume = (
        Milestone.objects.filter(
            paused_by=PausedBy.STATUS, met_at__isnull=True, stopped_at__isnull=True, handoff__lead_id__any=lead_ids
        )
        .values_list("handoff_id", "policy_id", "handoff__lead__status")
        .distinct()
    )
    resume_ids = {h for h, policy_id, status in to_resume if status not in policies.get(policy_id, ())}
    if resume_ids:
        resumed = milestones_resume(handoff_ids=resume_ids, at=at, by=PausedBy.STATUS)
        _changed(resume_ids)
    return paused, resumed


def _changed(handoff_ids) -> None:
    """Clocks the CRM moved change their handoff's figures: its `updated_at` tells the report summary's refresh
    (handoff/services/reports.py), as every transition's does."""
    Handoff.objects.filter(pk__any=list(handoff_ids)).update(updated_at=timezone.now())


def crm_statuses_moving_milestones() -> frozenset[str]:
    """Every CRM status that can pause a clock or count as a first touch, under any policy version.

    A lead whose status neither is nor was one of these cannot move a clock, so the sync passes the two
    functions above only the leads that can (a first import of a million leads then asks about a few).
    """
    found: set[str] = set(_working_statuses())
    for pause, touch in SlaPolicy.objects.values_list("pause_statuses", "touch_statuses"):
        found.update(pause or ())
        found.update(touch or ())
    return frozenset(found)


def _working_statuses() -> list[str]:
    return [status for status, meaning in settings.CRM_STATUS_MAP.items() if meaning == "working"]


def milestones_first_touch_by_crm_status(*, lead_ids: Sequence[int], at: datetime | None = None) -> int:
    """Meet the first-touch clock of open handoffs whose lead the CRM moved to a "working" status.

    For the CRM sync, once per page with the lead ids it upserted (idempotent: met clocks are skipped). The
    statuses are the policy's `touch_statuses`, else those CRM_STATUS_MAP calls "working". A status the app
    itself wrote back (accepting writes "Working - Contacted") is an echo of our action, not a touch. The touch
    happened at the lead's CRM modification time (SystemModstamp), not when we noticed it.
    """
    at = at or timezone.now()
    met = 0
    echo = WriteBack.objects.annotate(written_status=KT("changes__Status")).filter(
        lead_id=OuterRef("handoff__lead_id"),
        created_at__gte=OuterRef("handoff__handed_at"),
        written_status=OuterRef("handoff__lead__status"),
    )
    for policy_id, statuses in SlaPolicy.objects.values_list("pk", "touch_statuses"):
        statuses = statuses or _working_statuses()
        clocks = list(
            Milestone.objects.filter(
                kind=K.FIRST_TOUCH,
                met_at__isnull=True,
                stopped_at__isnull=True,
                policy_id=policy_id,
                handoff__state__in=OPEN_STATES,
                handoff__lead_id__any=lead_ids,
                handoff__lead__status__in=statuses,
            )
            .exclude(Exists(echo))
            .annotate(touched_at=F("handoff__lead__crm_modified_at"))
        )
        met += _meet(clocks, {m.handoff_id: min(m.touched_at or at, at) for m in clocks})
        if clocks:
            _changed({m.handoff_id for m in clocks})
    return met
