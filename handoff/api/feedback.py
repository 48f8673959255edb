"""/api/feedback/: sales feedback on lead quality. Reps list the requests put to them and rate (give or change
feedback); managers read their team's, marketers every request. Rating goes through the feedback service, with the
same 400 (field) / 403 (role) / 409 (state) answers as the handoff actions."""
from __future__ import annotations

import django_filters as filters
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from handoff.models import FeedbackOutcome, FeedbackPoint, FeedbackRequest, LeadFeedback, LeadFeedbackRevision
from handoff.models.feedback import NOTE_MAX_LENGTH, RATING_MAX, RATING_MIN, Via
from handoff.selectors.feedback import (
    answerable,
    change_deadline,
    feedback_requests_visible_to,
    with_feedback_detail,
)
from handoff.services.actors import Actor
from handoff.services.feedback import MAX_REASONS, lead_feedback_give

from .fields import StrictCharField, StrictIntegerField
from .filters import IdFilter, UtcDateTimeFilter
from .serializers import LeadSummarySerializer, ReasonSummarySerializer, UserSummarySerializer
from .views import ACTION_ERRORS, _errors, _valid


class FeedbackReasonSerializer(ReasonSummarySerializer):
    class Meta(ReasonSummarySerializer.Meta):
        fields = [*ReasonSummarySerializer.Meta.fields, "is_market_signal"]


class FeedbackRevisionSerializer(serializers.ModelSerializer):
    by = UserSummarySerializer(read_only=True)
    reasons = serializers.ListField(child=serializers.CharField(), read_only=True, help_text="The reason codes given.")

    class Meta:
        model = LeadFeedbackRevision
        fields = ["revision", "rating", "reasons", "note", "by", "via", "at"]
        read_only_fields = fields


class LeadFeedbackSerializer(serializers.ModelSerializer):
    reasons = FeedbackReasonSerializer(many=True, read_only=True)
    definition_version = serializers.IntegerField(source="definition.version", read_only=True)
    policy_version = serializers.IntegerField(source="policy.version", read_only=True, allow_null=True)
    change_until = serializers.SerializerMethodField(help_text="Until when the rater may change it.")

    class Meta:
        model = LeadFeedback
        fields = [
            "rating",
            "reasons",
            "note",
            "given_at",
            "changed_at",
            "revision",
            "change_until",
            "definition_version",
            "policy_version",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DateTimeField())
    def get_change_until(self, feedback: LeadFeedback) -> str:
        return serializers.DateTimeField().to_representation(change_deadline(feedback))


class FeedbackRequestSerializer(serializers.ModelSerializer):
    """A request for feedback on one handoff, with the feedback given, if any."""

    handoff = serializers.IntegerField(source="handoff_id", read_only=True)
    lead = LeadSummarySerializer(source="handoff.lead", read_only=True)
    rater = UserSummarySerializer(read_only=True)
    reject_reason = ReasonSummarySerializer(read_only=True, allow_null=True)
    definition_version = serializers.IntegerField(source="definition.version", read_only=True)
    policy_version = serializers.IntegerField(source="policy.version", read_only=True, allow_null=True)
    feedback = LeadFeedbackSerializer(read_only=True, allow_null=True)
    can_rate = serializers.SerializerMethodField(help_text="Whether you may rate now (POST …/rate/).")

    class Meta:
        model = FeedbackRequest
        fields = [
            "id",
            "handoff",
            "lead",
            "rater",
            "point",
            "point_at",
            "asked_at",
            "outcome",
            "outcome_at",
            "digests",
            "lead_source",
            "segment",
            "definition_version",
            "policy_version",
            "reject_reason",
            "feedback",
            "can_rate",
        ]
        read_only_fields = fields

    def get_can_rate(self, request: FeedbackRequest) -> bool:
        user = self.context["request"].user
        return request.rater_id == user.pk and user.is_active and answerable(request, timezone.now())


class FeedbackRequestDetailSerializer(FeedbackRequestSerializer):
    history = serializers.SerializerMethodField(help_text="Every version of the feedback, oldest first.")

    class Meta(FeedbackRequestSerializer.Meta):
        fields = [*FeedbackRequestSerializer.Meta.fields, "history"]
        read_only_fields = fields

    @extend_schema_field(FeedbackRevisionSerializer(many=True))
    def get_history(self, request: FeedbackRequest) -> list:
        feedback = getattr(request, "feedback", None)
        if feedback is None:
            return []
        return FeedbackRevisionSerializer(feedback.revisions.all(), many=True).data


class RateSerializer(serializers.Serializer):
    rating = StrictIntegerField(
        min_value=RATING_MIN,
        max_value=RATING_MAX,
        help_text="1 (very poor) to 5 (excellent).",
        error_messages={
            "required": "A rating from 1 to 5 is required.",
            "min_value": "A rating is from 1 to 5.",
            "max_value": "A rating is from 1 to 5.",
        },
    )
    reasons = serializers.ListField(
        child=StrictCharField(max_length=40),
        required=False,
        default=list,
        max_length=MAX_REASONS,
        help_text="Active feedback reason codes (GET /api/reason-codes/?kind=feedback). When the rep rejected the "
        "lead, only market signals: the reject reason already says what was wrong.",
    )
    note = StrictCharField(required=False, allow_blank=True, default="", max_length=NOTE_MAX_LENGTH)


class FeedbackRequestFilter(filters.FilterSet):
    outcome = filters.MultipleChoiceFilter(choices=FeedbackOutcome.choices, help_text="Repeat for several.")
    point = filters.MultipleChoiceFilter(choices=FeedbackPoint.choices, help_text="Repeat for several.")
    handoff = IdFilter(field_name="handoff_id", help_text="The handoff's id.")
    lead = IdFilter(field_name="handoff__lead_id", help_text="The lead's id.")
    rater = IdFilter(field_name="rater_id", help_text="The rep's user id.")
    asked_after = UtcDateTimeFilter(field_name="asked_at", lookup_expr="gte")
    asked_before = UtcDateTimeFilter(field_name="asked_at", lookup_expr="lt")

    class Meta:
        model = FeedbackRequest
        fields = ["outcome", "point", "handoff", "lead", "rater", "asked_after", "asked_before"]


@extend_schema_view(
    list=extend_schema(summary="Feedback requests you can see (reps: yours; managers: your team's), newest first"),
    retrieve=extend_schema(
        summary="One feedback request, with its feedback and every version of it",
        responses={200: FeedbackRequestDetailSerializer, **_errors(404)},
    ),
)
class FeedbackRequestViewSet(viewsets.ReadOnlyModelViewSet):
    """Sales feedback on lead quality: the requests put to reps, and the ratings they gave."""

    filterset_class = FeedbackRequestFilter
    ordering = ("-id",)

    def get_queryset(self) -> QuerySet[FeedbackRequest]:
        if getattr(self, "swagger_fake_view", False):
            return FeedbackRequest.objects.none()
        return with_feedback_detail(feedback_requests_visible_to(self.request.user))

    def get_serializer_class(self):
        return FeedbackRequestSerializer if self.action == "list" else FeedbackRequestDetailSerializer

    @extend_schema(
        summary="Rate the lead: give your feedback, or change it while the change window lasts",
        description=(
            "Only the rep asked may rate: the request must be pending, or its feedback given less than "
            "FEEDBACK_CHANGE_DAYS ago (every version is kept in `history`). After a reject, only market signals "
            "may be given as reasons: the reject reason already says what was wrong. The same answer twice "
            "changes nothing."
        ),
        request=RateSerializer,
        responses={200: FeedbackRequestDetailSerializer, **ACTION_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def rate(self, request: Request, pk=None) -> Response:
        target = self.get_object()
        body = _valid(RateSerializer, request)
        lead_feedback_give(request=target, actor=Actor.person(request.user), via=Via.API, **body)
        fresh = self.get_queryset().get(pk=target.pk)
        return Response(FeedbackRequestDetailSerializer(fresh, context=self.get_serializer_context()).data)
