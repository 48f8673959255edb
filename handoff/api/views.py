"""API views: read through the selectors, act through the state machine, answer with the handoff as it is now."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from handoff.db import prepared_reads
from handoff.exceptions import InvalidInput
from handoff.models import Handoff, HandoffEvent, Lead, LeadDefinition, Milestone, ReasonCode
from handoff.models.handoffs import OPEN_STATES
from handoff.selectors.handoffs import handoffs_visible_in_parts, handoffs_visible_to, leads_visible_to
from handoff.services import handoffs as machine
from handoff.services.actors import Actor

from . import handoff_json
from . import serializers as s
from .filters import HandoffFilter, LeadDefinitionFilter, LeadFilter, ReasonCodeFilter


def _errors(*statuses: int) -> dict[int, OpenApiResponse]:
    meaning = {
        400: "Bad input; `field` names it.",
        403: "Your role may not do this to this handoff.",
        404: "No such object, or one you cannot see.",
        409: "The handoff is not in a state where this applies.",
    }
    return {code: OpenApiResponse(s.ErrorSerializer, description=meaning[code]) for code in statuses}


ACTION_ERRORS = _errors(400, 403, 404, 409)


class ActorMixin:
    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        if self.request is not None and self.request.user.is_authenticated:
            context["actor"] = Actor.person(self.request.user)
        return context

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        # django-filter deep-copies every filter of the set on each request (a tenth of a list's time): a request
        # with no filter in its query string has nothing for it to do.
        if set(self.request.query_params) <= {"cursor", "page_size"}:
            return queryset
        return super().filter_queryset(queryset)


# ---------------------------------------------------------------------------------------------
# Leads
# ---------------------------------------------------------------------------------------------
@extend_schema_view(
    list=extend_schema(summary="Leads you can see, newest CRM creation first"),
    retrieve=extend_schema(summary="One lead", responses={200: s.LeadSerializer, **_errors(404)}),
)
class LeadViewSet(ActorMixin, viewsets.ReadOnlyModelViewSet):
    """Leads mirrored from the CRM: marketers see all, managers their teams' and the queue's, reps their own."""

    serializer_class = s.LeadSerializer
    filterset_class = LeadFilter
    ordering = ("-crm_created_at", "-id")

    def get_queryset(self) -> QuerySet[Lead]:
        if getattr(self, "swagger_fake_view", False):
            return Lead.objects.none()
        open_handoff = Handoff.objects.filter(lead=OuterRef("pk"), state__in=OPEN_STATES).values("pk")[:1]
        return leads_visible_to(self.request.user).annotate(open_handoff_id=Subquery(open_handoff))

    def list(self, request: Request, *args, **kwargs) -> Response:
        """LeadSerializer's rows, read with `.values()` (s.lead_rows): one query a page, whatever its size."""
        leads = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(leads.values(*s.LEAD_COLUMNS))
        return self.get_paginated_response(s.lead_rows(page))

    @extend_schema(
        summary="Qualify the lead (MQL): hand it to its owner",
        request=s.NoteSerializer,
        responses={201: s.HandoffDetailSerializer, **ACTION_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def qualify(self, request: Request, pk=None) -> Response:
        lead = self.get_object()
        body = _valid(s.NoteSerializer, request)
        handoff = machine.handoff_qualify(lead=lead, actor=Actor.person(request.user), **body)
        return Response(_handoff_detail(request, handoff.pk, self), status=status.HTTP_201_CREATED)


# ---------------------------------------------------------------------------------------------
# Handoffs
# ---------------------------------------------------------------------------------------------
def _valid(serializer_class: type[Serializer], request: Request) -> dict:
    body = serializer_class(data=request.data)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


def _handoffs(user) -> QuerySet[Handoff]:
    # `actions` needs each owner's team: without owner__profile a page would cost a query per row.
    return handoffs_visible_to(user).select_related("owner__profile", "qualified_by")


def _with_history(handoffs: QuerySet[Handoff]) -> QuerySet[Handoff]:
    events = HandoffEvent.objects.select_related("actor", "reason", "definition")
    return handoffs.prefetch_related(Prefetch("events", queryset=events))


def _handoff_detail(request: Request, pk: int, view) -> dict:
    handoff = _with_history(_handoffs(request.user)).get(pk=pk)
    return s.HandoffDetailSerializer(handoff, context=view.get_serializer_context()).data


def _perform(action_name: str, service: Callable[..., Handoff], body: type[Serializer], summary: str) -> Callable:
    """A POST /api/handoffs/{id}/<action>/ view: validate the body, call the service, return the handoff."""

    def perform(self, request: Request, pk=None) -> Response:
        handoff = self.get_object()
        result = service(handoff=handoff, actor=Actor.person(request.user), **_valid(body, request))
        return Response(_handoff_detail(request, result.pk, self))

    # @action maps the HTTP method to the function's name, so the name must be right before it runs.
    perform.__name__ = perform.__qualname__ = action_name
    routed = action(detail=True, methods=["post"], url_path=action_name, url_name=action_name)(perform)
    return extend_schema(
        summary=summary,
        description=service.__doc__ or summary,
        request=body,
        responses={200: s.HandoffDetailSerializer, **ACTION_ERRORS},
    )(routed)


@extend_schema_view(
    list=extend_schema(summary="Handoffs you can see, newest hand-over first"),
    retrieve=extend_schema(
        summary="One handoff with its history and the actions you may take now",
        responses={200: s.HandoffDetailSerializer, **_errors(404)},
    ),
)
class HandoffViewSet(ActorMixin, viewsets.ReadOnlyModelViewSet):
    """Handoffs (one qualification of a lead each) and the rules-of-engagement actions on them."""

    filterset_class = HandoffFilter
    ordering = ("-handed_at", "-id")

    def get_queryset(self) -> QuerySet[Handoff]:
        if getattr(self, "swagger_fake_view", False):
            return Handoff.objects.none()
        if self.action in ("list", "bulk_reject"):
            return handoffs_visible_to(self.request.user)
        handoffs = _handoffs(self.request.user).prefetch_related(
            Prefetch("milestones", queryset=Milestone.objects.select_related("policy").order_by("round", "due_at"))
        )
        return _with_history(handoffs) if self.action == "retrieve" else handoffs

    def list(self, request: Request, *args, **kwargs) -> Response:
        """HandoffSerializer's rows, and what the reader may do to each, decided once per state and owner on the page:
        the page found first by its positions alone, then its rows written as JSON by PostgreSQL (handoff_json), else
        read with `.values()` (s.handoff_rows)."""
        if handoff_json.available() and request.accepted_renderer.format == "json":
            parts = [self.filter_queryset(part) for part in handoffs_visible_in_parts(request.user)]
            # Prepared once per connection: found by the owner or by the team (a value each, not a list of a team's
            # members), its plan holds for every reader of the same shape, and planning a merged list cost more than
            # finding its page.
            with prepared_reads():
                positions = self.paginate_queryset(handoff_json.page_positions(parts))
            page = handoff_json.page_rows(positions)
            return handoff_json.page_response(self.paginator, page, actor=Actor.person(request.user))
        handoffs = self.filter_queryset(self.get_queryset())
        return self.get_paginated_response(_handoff_rows(handoffs, request, page=self.paginate_queryset))

    def get_serializer_class(self) -> type[Serializer]:
        return s.HandoffSerializer if self.action == "list" else s.HandoffDetailSerializer

    accept = _perform("accept", machine.handoff_accept, s.NoteSerializer, "Accept the lead (SAL)")
    reject = _perform("reject", machine.handoff_reject, s.RejectSerializer, "Reject the lead with a reason")
    dispute = _perform(
        "dispute", machine.handoff_dispute, s.DisputeSerializer, "Contest a rejection (marketing); a manager decides"
    )
    resolve = _perform(
        "resolve", machine.handoff_resolve, s.ResolveSerializer, "Decide a dispute: uphold or overturn the rejection"
    )
    touch = _perform("touch", machine.handoff_touch, s.TouchSerializer, "Log a call, email or meeting")
    convert = _perform("convert", machine.handoff_convert, s.NoteSerializer, "Mark the lead converted (SQL)")
    recycle = _perform("recycle", machine.handoff_recycle, s.RecycleSerializer, "Send the lead back to nurture")
    pause = _perform(
        "pause", machine.handoff_pause, s.ClockNoteSerializer, "Pause the running SLA milestones, with a reason"
    )
    resume = _perform(
        "resume", machine.handoff_resume, s.ClockNoteSerializer, "Resume the handoff's paused SLA milestones"
    )

    @extend_schema(
        summary="Reject many handoffs with one reason, all or none",
        request=s.BulkRejectSerializer,
        responses={200: s.BulkRejectResultSerializer, **_errors(400, 403, 409)},
    )
    @action(detail=False, methods=["post"], url_path="bulk-reject", url_name="bulk-reject")
    def bulk_reject(self, request: Request) -> Response:
        body = _valid(s.BulkRejectSerializer, request)
        ids = body.pop("ids")
        visible = set(self.get_queryset().filter(pk__in=ids).values_list("pk", flat=True))
        unseen = sorted(set(ids) - visible)
        if unseen:
            # A handoff the user cannot see does not exist for them, as on the single action's 404.
            raise InvalidInput(f"No handoff with id {', '.join(map(str, unseen))}.", field="ids")
        rejected = machine.handoffs_reject(handoffs=ids, actor=Actor.person(request.user), **body)
        handoffs = self.get_queryset().filter(pk__in=[h.pk for h in rejected]).order_by("pk")
        return Response({"results": _handoff_rows(handoffs, request)})


def _handoff_rows(handoffs: QuerySet[Handoff], request: Request, *, page=list) -> list[dict]:
    """HandoffSerializer's output for these handoffs (`page`: the paginator's cut of them, or all)."""
    actor = Actor.person(request.user)
    if handoff_json.available():
        return handoff_json.rows(handoff_json.page_rows(page(handoff_json.page_positions([handoffs]))), actor=actor)
    return s.handoff_rows(page(handoffs.values(*s.HANDOFF_COLUMNS)), actor=actor)


# ---------------------------------------------------------------------------------------------
# Reference data
# ---------------------------------------------------------------------------------------------
@extend_schema_view(list=extend_schema(summary="Active reason codes; filter by ?kind=reject|recycle|dispute|feedback"))
class ReasonCodeViewSet(viewsets.ReadOnlyModelViewSet):
    """The reason codes both teams agreed on; only active ones are offered."""

    queryset = ReasonCode.objects.filter(is_active=True).order_by("kind", "label")
    serializer_class = s.ReasonCodeSerializer
    filterset_class = ReasonCodeFilter
    pagination_class = None


@extend_schema_view(list=extend_schema(summary="Every version of the lead definition, newest first"))
class LeadDefinitionViewSet(viewsets.ReadOnlyModelViewSet):
    """The agreed MQL criteria, one row per version; a version that judged a lead never changes."""

    queryset = LeadDefinition.objects.order_by("-version")
    serializer_class = s.LeadDefinitionSerializer
    pagination_class = None
    filterset_class = LeadDefinitionFilter
