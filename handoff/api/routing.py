"""/api/routing/: the routing rules in force, reps' weights, caps and status, away periods, and the team queues.

Managers see and change their teams' reps (admins every team's); a rep sees themselves and sets themselves away.
Bad input is a 400 naming the field, and nothing is written.
"""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.generics import get_object_or_404  # a malformed id is a 404 too, not a 500
from rest_framework.request import Request
from rest_framework.response import Response

from handoff.models import AwayPeriod, HandoffRouting, Role, RoutingRules
from handoff.models.routing import MAX_CAP, MAX_WEIGHT
from handoff.selectors.people import user_has_role
from handoff.selectors.routing import (
    SKIP_TEXT,
    away_periods_visible_to,
    routing_pool,
    routing_queue,
    routing_reps_visible_to,
    routing_teams_for,
)
from handoff.services.actors import Actor
from handoff.services.routing import away_period_cancel, away_period_set, rep_routing_update

from .fields import StrictCharField, StrictIntegerField
from .serializers import LeadSummarySerializer, UserSummarySerializer
from .views import _errors, _valid


# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------
class TeamSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class RoutingRulesSerializer(serializers.ModelSerializer):
    catch_all_team = TeamSummarySerializer(read_only=True)

    class Meta:
        model = RoutingRules
        fields = ["id", "version", "name", "description", "territories", "catch_all_team", "is_active",
                  "first_routed_at", "created_at"]
        read_only_fields = fields
        extra_kwargs = {
            "territories": {
                "help_text": 'First match wins: [{"name", "conditions": [as in the lead definition, or "segment"], '
                '"team": team id}].'
            }
        }


@extend_schema_view(
    list=extend_schema(summary="Every version of the routing rules, newest first"),
    retrieve=extend_schema(summary="One version of the routing rules", responses={200: RoutingRulesSerializer,
                                                                                  **_errors(404)}),
)
class RoutingRulesViewSet(viewsets.ReadOnlyModelViewSet):
    """Routing rules versions (edited in the admin): territories → teams, the catch-all team; one is in force."""

    queryset = RoutingRules.objects.select_related("catch_all_team").order_by("-version")
    serializer_class = RoutingRulesSerializer
    pagination_class = None


# ---------------------------------------------------------------------------------------------
# Reps
# ---------------------------------------------------------------------------------------------
class RoutingRepSerializer(serializers.Serializer):
    """A rep as routing sees them now: their share, their counts and whether they can take a lead."""

    id = serializers.IntegerField(source="user_id")
    username = serializers.CharField()
    name = serializers.CharField()
    team = serializers.IntegerField(source="team_id")
    weight = serializers.IntegerField()
    daily_cap = serializers.IntegerField(allow_null=True)
    open_cap = serializers.IntegerField(allow_null=True)
    status = serializers.ChoiceField(choices=["active", *[k for k in SKIP_TEXT if k != "breached"]],
                                     help_text="active, or why no lead is routed to them now.")
    status_text = serializers.CharField()
    leads_today = serializers.IntegerField(source="today", help_text="Leads given today (the rep's day).")
    open_handoffs = serializers.IntegerField(source="open")
    assigned = serializers.IntegerField(help_text="Leads routed or given by hand to the rep, all told.")
    away_until = serializers.DateField(allow_null=True)


class RoutingRepChangeSerializer(serializers.Serializer):
    weight = StrictIntegerField(required=False, min_value=1, max_value=MAX_WEIGHT,
                                help_text="Relative share: 2 gets twice the leads of 1.")
    daily_cap = StrictIntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_CAP,
                                   help_text="Leads a day at most; null: no cap.")
    open_cap = StrictIntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_CAP,
                                  help_text="No new lead while this many handoffs are open; null: no cap.")


def _states(users) -> list:
    users = list(users)
    teams = {u.profile.team_id for u in users}
    pool = {rep.user_id: rep for reps in routing_pool(teams, timezone.now()).values() for rep in reps}
    return [pool[u.pk] for u in users if u.pk in pool]


@extend_schema_view(
    list=extend_schema(summary="Reps whose routing you can see (managers: your teams'; reps: yourself)",
                       responses={200: RoutingRepSerializer(many=True)}),
    retrieve=extend_schema(summary="One rep's routing", responses={200: RoutingRepSerializer, **_errors(404)}),
    partial_update=extend_schema(
        summary="Change a rep's weight and caps (their manager)",
        request=RoutingRepChangeSerializer,
        responses={200: RoutingRepSerializer, **_errors(400, 403, 404)},
    ),
)
class RoutingRepViewSet(viewsets.GenericViewSet):
    """Reps' shares of their team's round robin: weight, caps, leads today and whether they can take leads now."""

    serializer_class = RoutingRepSerializer
    pagination_class = None
    filter_backends: list = []
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return get_user_model().objects.none()
        return routing_reps_visible_to(self.request.user)

    def list(self, request: Request) -> Response:
        return Response(RoutingRepSerializer(_states(self.get_queryset()), many=True).data)

    def retrieve(self, request: Request, pk=None) -> Response:
        user = get_object_or_404(self.get_queryset(), pk=pk)
        return Response(RoutingRepSerializer(_states([user])[0]).data)

    def partial_update(self, request: Request, pk=None) -> Response:
        user = get_object_or_404(self.get_queryset(), pk=pk)
        body = _valid(RoutingRepChangeSerializer, request)
        rep_routing_update(rep=user, actor=Actor.person(request.user), **body)
        return Response(RoutingRepSerializer(_states([user])[0]).data)


# ---------------------------------------------------------------------------------------------
# Away periods
# ---------------------------------------------------------------------------------------------
class AwayPeriodSerializer(serializers.ModelSerializer):
    rep = UserSummarySerializer(source="user", read_only=True)
    set_by = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = AwayPeriod
        fields = ["id", "rep", "starts_on", "ends_on", "note", "set_by", "created_at"]
        read_only_fields = fields


class AwayPeriodInputSerializer(serializers.Serializer):
    rep = StrictIntegerField(required=False, help_text="The rep's user id; left out: yourself.")
    starts_on = serializers.DateField(help_text="The first day away, in the rep's zone.")
    ends_on = serializers.DateField(help_text="The last day away (included).")
    note = StrictCharField(required=False, allow_blank=True, default="", max_length=200)


@extend_schema_view(
    list=extend_schema(summary="Away periods you can see (yours; managers: your teams')"),
    retrieve=extend_schema(summary="One away period", responses={200: AwayPeriodSerializer, **_errors(404)}),
    create=extend_schema(
        summary="Set a rep away from one date to another (the rep, or their manager)",
        request=AwayPeriodInputSerializer,
        responses={201: AwayPeriodSerializer, **_errors(400, 403)},
    ),
    destroy=extend_schema(summary="Remove an away period (the rep, or their manager)",
                          responses={204: None, **_errors(403, 404)}),
)
class AwayPeriodViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Reps out of office: no lead is routed to them from the first day to the last, in their own zone."""

    serializer_class = AwayPeriodSerializer
    pagination_class = None
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[AwayPeriod]:
        if getattr(self, "swagger_fake_view", False):
            return AwayPeriod.objects.none()
        return away_periods_visible_to(self.request.user).order_by("starts_on", "id")

    def create(self, request: Request) -> Response:
        body = _valid(AwayPeriodInputSerializer, request)
        rep = body.pop("rep", None)
        if rep is None:
            rep = request.user.pk
        period = away_period_set(rep=rep, actor=Actor.person(request.user), **body)
        return Response(AwayPeriodSerializer(period).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, pk=None) -> Response:
        period = self.get_object()
        away_period_cancel(period=period, actor=Actor.person(request.user))
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------------------------------
# The queue
# ---------------------------------------------------------------------------------------------
class QueuedLeadSerializer(serializers.ModelSerializer):
    handoff = serializers.IntegerField(source="handoff_id")
    lead = LeadSummarySerializer(source="handoff.lead")
    team = TeamSummarySerializer()
    rules_version = serializers.IntegerField(source="rules.version")

    class Meta:
        model = HandoffRouting
        fields = ["handoff", "lead", "team", "territory", "rules_version", "queued_at", "attempts", "manager_told_at"]
        read_only_fields = fields


class CanSeeQueues(permissions.BasePermission):
    message = "Only managers and admins can see the team queues."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and (user.is_staff or user_has_role(user, Role.MANAGER)))


@extend_schema_view(list=extend_schema(summary="Leads waiting in your teams' queues: no rep could take them yet"))
class RoutingQueueViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The team queues, oldest first: each lead's team, territory and routing passes tried so far."""

    serializer_class = QueuedLeadSerializer
    permission_classes = [permissions.IsAuthenticated, CanSeeQueues]
    pagination_class = None
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[HandoffRouting]:
        if getattr(self, "swagger_fake_view", False):
            return HandoffRouting.objects.none()
        return routing_queue(routing_teams_for(self.request.user).values_list("pk", flat=True))
