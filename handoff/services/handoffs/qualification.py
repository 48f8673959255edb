"""The start of a handoff: a lead qualified (MQL) by a marketer, or by the rule of the lead definition in force."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.db.models import F, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from handoff.exceptions import InvalidInput, NotAllowed, WrongState
from handoff.models import Handoff, HandoffState, Lead, LeadDefinition, Role
from handoff.models.handoffs import OPEN_STATES, ActorKind
from handoff.rules import as_q, parse_conditions

from ..actors import Actor
from .machine import MAX_BATCH, _after, _log

S = HandoffState


def active_definition() -> LeadDefinition:
    definition = LeadDefinition.objects.filter(is_active=True).first()
    if definition is None:
        raise InvalidInput("No lead definition is active; an admin must activate one.", field="definition")
    return definition


def handoff_qualify(*, lead: Lead | int, actor: Actor, note: str = "", at: datetime | None = None) -> Handoff:
    """A marketer tags a lead as qualified (MQL): it is handed to its owner."""
    lead_id = lead.pk if isinstance(lead, Lead) else int(lead)
    return leads_qualify(lead_ids=[lead_id], actor=actor, note=note, at=at)[0]


def leads_qualify(
    *, lead_ids: Sequence[int], actor: Actor, note: str = "", at: datetime | None = None
) -> list[Handoff]:
    """A marketer qualifies several leads at once (bulk qualify): all or none, in one set-based batch."""
    if actor.kind == ActorKind.USER and not actor.has_role(Role.MARKETER):
        raise NotAllowed("Only a marketer can qualify a lead.", code="forbidden_role")
    if actor.kind not in (ActorKind.USER, ActorKind.RULE):
        raise NotAllowed("Only a marketer or the lead definition rule can qualify a lead.", code="forbidden_role")
    ids = sorted({int(pk) for pk in lead_ids})
    if not ids:
        raise InvalidInput("Tick the leads to qualify.", field="leads")
    if len(ids) > MAX_BATCH:
        raise InvalidInput(f"At most {MAX_BATCH} leads at a time.", field="leads")
    return handoffs_qualify(lead_ids=ids, actor=actor, note=note, at=at, strict=True)


def handoffs_qualify(
    *,
    lead_ids: Sequence[int],
    actor: Actor,
    note: str = "",
    at: datetime | None = None,
    strict: bool = False,
) -> list[Handoff]:
    """Start a handoff for each lead, with the next sequence number and the definition in force.

    strict: raise when a lead cannot be qualified (a person's action); otherwise skip it (the rule
    qualifying a sync batch, where a lead that already has an open handoff is simply not a new MQL).
    """
    at = at or timezone.now()
    note = (note or "").strip()
    with transaction.atomic():
        definition = active_definition()
        leads = list(Lead.objects.select_for_update().filter(pk__any=lead_ids).defer("raw").order_by("pk"))
        if strict and len(leads) != len(set(lead_ids)):
            raise InvalidInput("No such lead.", field="lead")
        open_ids = set(
            Handoff.objects.filter(lead_id__any=[lead.pk for lead in leads], state__in=OPEN_STATES).values_list(
                "lead_id", flat=True
            )
        )
        eligible = []
        for lead in leads:
            problem = None
            if lead.is_deleted:
                problem = "it was deleted in the CRM"
            elif lead.is_converted:
                problem = "it is already converted"
            elif lead.pk in open_ids:
                problem = "it already has an open handoff"
            if problem is None:
                eligible.append(lead)
            elif strict:
                raise WrongState(f"Cannot qualify lead {lead}: {problem}.", code="wrong_state")
        if not eligible:
            return []
        last = dict(
            Handoff.objects.filter(lead_id__any=[lead.pk for lead in eligible])
            .values("lead_id")
            .annotate(last=Max("sequence"))
            .values_list("lead_id", "last")
        )
        created = Handoff.objects.bulk_create(
            Handoff(
                lead=lead,
                sequence=last.get(lead.pk, 0) + 1,
                state=S.QUALIFIED,
                owner_id=lead.owner_id,
                definition=definition,
                qualified_by_kind=actor.kind,
                qualified_by=actor.user,
                qualified_at=at,
                handed_at=at,
                note=note,
            )
            for lead in eligible
        )
        events = _log("qualify", [(h, "", S.QUALIFIED) for h in created], actor, at=at, note=note)
        # Just written from these very objects (with their leads attached): no reload needed.
        _after("qualify", created, events, actor)
    return created


def leads_qualify_by_rule(*, lead_ids: Sequence[int] | None = None, at: datetime | None = None) -> list[Handoff]:
    """Qualify, as the rule, every lead (of those given) that meets the active definition.

    A lead qualifies again only after it changed since its last episode ended, so a recycled lead that
    still meets the definition is not handed straight back by the rule.
    """
    definition = LeadDefinition.objects.filter(is_active=True).first()
    if definition is None:
        return []
    last_end = (
        Handoff.objects.filter(lead_id=OuterRef("pk"), state__in=[S.RECYCLED, S.CLOSED])
        .annotate(ended=Coalesce("recycled_at", "closed_at"))
        .order_by("-ended")
        .values("ended")[:1]
    )
    candidates = (
        Lead.objects.filter(as_q(parse_conditions(definition.conditions)), is_deleted=False, is_converted=False)
        .exclude(pk__in=Handoff.objects.filter(state__in=OPEN_STATES).values("lead_id"))
        .annotate(last_end=Subquery(last_end))
        .filter(Q(last_end__isnull=True) | Q(crm_modified_at__gt=F("last_end")))
    )
    if lead_ids is not None:
        candidates = candidates.filter(pk__any=lead_ids)
    ids = list(candidates.order_by("pk").values_list("pk", flat=True))
    created: list[Handoff] = []
    for start in range(0, len(ids), MAX_BATCH):
        created += handoffs_qualify(lead_ids=ids[start : start + MAX_BATCH], actor=Actor.rule(), at=at)
    return created
