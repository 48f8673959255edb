"""Reading handoffs and leads: who may see what, and the lists each role works from."""
from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef, Q, QuerySet

from handoff.models import Handoff, HandoffEvent, HandoffState, Lead, Role
from handoff.models.handoffs import OPEN_STATES

from .people import user_roles


def _visible(user: AbstractBaseUser) -> Q:
    """What a person may see of handoffs and leads alike (both have an `owner`)."""
    roles = user_roles(user)
    if user.is_staff or Role.MARKETER in roles:
        return Q()
    visible = Q(pk__in=[])
    if Role.MANAGER in roles:
        visible |= Q(owner__profile__team__manager=user) | Q(owner__isnull=True)
    if Role.SALES_REP in roles:
        visible |= Q(owner=user)
    return visible


def handoffs_visible_to(user: AbstractBaseUser) -> QuerySet[Handoff]:
    """Marketers and admins see every handoff; managers their teams' and the queue's; reps their own."""
    base = Handoff.objects.select_related("lead", "owner", "definition", "reason", "dispute_reason")
    return base.filter(_visible(user))


def leads_visible_to(user: AbstractBaseUser) -> QuerySet[Lead]:
    return Lead.objects.select_related("owner").filter(_visible(user))


def open_handoff_exists() -> Exists:
    return Exists(Handoff.objects.filter(lead=OuterRef("pk"), state__in=OPEN_STATES))


def leads_unqualified(*, search: str = "") -> QuerySet[Lead]:
    """Live leads with no open handoff: what a marketer may tag as qualified."""
    leads = (
        Lead.objects.filter(is_deleted=False, is_converted=False)
        .annotate(has_open=open_handoff_exists())
        .filter(has_open=False)
        .select_related("owner")
    )
    search = search.strip()
    if search:
        leads = leads.filter(
            Q(first_name__icontains=search)
            | Q(last_name__icontains=search)
            | Q(email__icontains=search)
            | Q(company__icontains=search)
            | Q(crm_id=search)
        )
    return leads.order_by("-crm_created_at", "-id")


def handoffs_of_rep(user: AbstractBaseUser, *, open_only: bool = True) -> QuerySet[Handoff]:
    """The rep's own handoffs, newest hand-over first."""
    handoffs = handoffs_visible_to(user).filter(owner=user)
    if open_only:
        handoffs = handoffs.filter(state__in=OPEN_STATES)
    return handoffs.order_by("-handed_at", "-id")


def disputes_to_resolve(user: AbstractBaseUser) -> QuerySet[Handoff]:
    return handoffs_visible_to(user).filter(state=HandoffState.DISPUTED).order_by("disputed_at", "id")


def lead_history(lead: Lead) -> QuerySet[HandoffEvent]:
    """Every event of every handoff of the lead, oldest first."""
    return HandoffEvent.objects.filter(lead=lead).select_related("actor", "reason", "handoff", "definition")
