"""API shapes: what leads, handoffs and their history look like, and the body each action takes."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from handoff.models import Handoff, HandoffEvent, HandoffState, Lead, LeadDefinition, Milestone, ReasonCode, Touch
from handoff.services.handoffs import MAX_BATCH, MILESTONE_ACTIONS, Action, Decision, allowed_actions

from .fields import StrictCharField, StrictDateTimeField, StrictIntegerField


class ErrorSerializer(serializers.Serializer):
    """Every error body: a sentence for a person, a code for a program, and the input field at fault."""

    detail = serializers.CharField()
    code = serializers.CharField()
    field = serializers.CharField(required=False, help_text="The input field at fault, when there is one.")


# ---------------------------------------------------------------------------------------------
# Read shapes
# ---------------------------------------------------------------------------------------------
class UserSummarySerializer(serializers.ModelSerializer):
    name = serializers.SerializerMethodField()

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "name"]

    def get_name(self, user) -> str:
        return user.get_full_name() or user.get_username()


class ReasonSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = ReasonCode
        fields = ["code", "label"]


class ReasonCodeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReasonCode
        fields = ["id", "kind", "code", "label", "requires_note", "is_market_signal"]


class DefinitionSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = LeadDefinition
        fields = ["id", "version", "name"]


class LeadDefinitionSerializer(serializers.ModelSerializer):
    conditions = serializers.JSONField(help_text='All must hold, e.g. [{"field": "score", "op": ">=", "value": 60}].')

    class Meta:
        model = LeadDefinition
        fields = ["id", "version", "name", "description", "conditions", "is_active", "created_at"]


class LeadSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Lead
        fields = ["id", "crm_id", "name", "email", "company", "country", "lead_source", "status", "score"]


class LeadSerializer(serializers.ModelSerializer):
    owner = UserSummarySerializer(read_only=True, allow_null=True)
    open_handoff = serializers.IntegerField(
        source="open_handoff_id", read_only=True, allow_null=True, help_text="The lead's open handoff, if any."
    )

    class Meta:
        model = Lead
        fields = [
            "id",
            "crm_id",
            "name",
            "first_name",
            "last_name",
            "email",
            "company",
            "title",
            "country",
            "industry",
            "lead_source",
            "status",
            "score",
            "owner",
            "is_converted",
            "converted_at",
            "is_deleted",
            "crm_created_at",
            "crm_modified_at",
            "open_handoff",
        ]
        read_only_fields = fields


class NullWhenBlankChoiceField(serializers.ChoiceField):
    """A stored "" (no value) read out as null, so the value is always one of the enum or null."""

    def to_representation(self, value):
        return None if value == "" else super().to_representation(value)


class HandoffEventSerializer(serializers.ModelSerializer):
    from_state = NullWhenBlankChoiceField(
        choices=HandoffState.choices,
        allow_null=True,
        read_only=True,
        help_text="null for the qualification that created the handoff.",
    )
    actor = UserSummarySerializer(read_only=True, allow_null=True)
    reason = ReasonSummarySerializer(read_only=True, allow_null=True)
    definition_version = serializers.IntegerField(source="definition.version", read_only=True)
    data = serializers.JSONField(read_only=True, help_text="Details of the action (touch kind and outcome, decision…).")

    class Meta:
        model = HandoffEvent
        fields = [
            "id",
            "action",
            "from_state",
            "to_state",
            "actor_kind",
            "actor",
            "reason",
            "note",
            "definition_version",
            "data",
            "at",
        ]
        read_only_fields = fields


class MilestoneSerializer(serializers.ModelSerializer):
    """One SLA clock: due in business time, met, breached (a late meet is a breach too), paused or stopped."""

    policy_version = serializers.IntegerField(source="policy.version", read_only=True)
    is_breach = serializers.BooleanField(read_only=True)

    class Meta:
        model = Milestone
        fields = [
            "kind",
            "round",
            "segment",
            "policy_version",
            "started_at",
            "due_at",
            "remind_at",
            "met_at",
            "breached_at",
            "stopped_at",
            "paused_at",
            "business_seconds_taken",
            "attempts",
            "attempts_required",
            "is_breach",
        ]
        read_only_fields = fields


class HandoffSerializer(serializers.ModelSerializer):
    """A handoff with what the requesting user may do with it now (`context["actor"]`)."""

    lead = LeadSummarySerializer(read_only=True)
    owner = UserSummarySerializer(read_only=True, allow_null=True)
    qualified_by = UserSummarySerializer(read_only=True, allow_null=True)
    definition = DefinitionSummarySerializer(read_only=True)
    reason = ReasonSummarySerializer(read_only=True, allow_null=True)
    dispute_reason = ReasonSummarySerializer(read_only=True, allow_null=True)
    actions = serializers.SerializerMethodField()
    milestones = MilestoneSerializer(many=True, read_only=True)

    class Meta:
        model = Handoff
        fields = [
            "id",
            "lead",
            "sequence",
            "state",
            "owner",
            "definition",
            "qualified_by_kind",
            "qualified_by",
            "reason",
            "note",
            "dispute_reason",
            "dispute_note",
            "qualified_at",
            "handed_at",
            "accepted_at",
            "rejected_at",
            "disputed_at",
            "resolved_at",
            "first_touch_at",
            "first_connect_at",
            "converted_at",
            "recycled_at",
            "closed_at",
            "updated_at",
            "milestones",
            "actions",
        ]
        read_only_fields = fields

    @extend_schema_field(
        serializers.ListField(
            child=serializers.ChoiceField(choices=[a.value for a in Action if a not in MILESTONE_ACTIONS])
        )
    )
    def get_actions(self, handoff: Handoff) -> list[str]:
        return [str(action) for action in allowed_actions(self.context["actor"], handoff)]


class HandoffDetailSerializer(HandoffSerializer):
    events = HandoffEventSerializer(many=True, read_only=True, help_text="The handoff's history, oldest first.")

    class Meta(HandoffSerializer.Meta):
        fields = [*HandoffSerializer.Meta.fields, "events"]
        read_only_fields = fields


# ---------------------------------------------------------------------------------------------
# Action bodies: shapes only; the state machine decides what the rules allow
# ---------------------------------------------------------------------------------------------
def _note() -> serializers.CharField:
    return StrictCharField(required=False, allow_blank=True, default="", max_length=2000)


def _reason(action: Action) -> serializers.CharField:
    missing = f"A reason is required to {action} a lead."
    return StrictCharField(
        max_length=40,
        help_text=f"An active `{action}` reason code (GET /api/reason-codes/?kind={action}).",
        error_messages={"required": missing, "blank": missing, "null": missing},
    )


class NoteSerializer(serializers.Serializer):
    note = _note()


class RejectSerializer(serializers.Serializer):
    reason = _reason(Action.REJECT)
    note = _note()


class DisputeSerializer(serializers.Serializer):
    reason = _reason(Action.DISPUTE)
    note = _note()


class RecycleSerializer(serializers.Serializer):
    reason = _reason(Action.RECYCLE)
    note = _note()


class ResolveSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(
        choices=[d.value for d in Decision],
        help_text="uphold: the rejection stands; overturn: the lead goes back to its rep with a fresh clock.",
        error_messages={
            "required": "A decision is required: 'uphold' or 'overturn'.",
            "invalid_choice": "{input!r} is not a decision: use 'uphold' or 'overturn'.",
        },
    )
    note = _note()


class TouchSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Touch.Kind.choices)
    outcome = serializers.ChoiceField(choices=Touch.Outcome.choices)
    at = StrictDateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text=(
            "When it happened, if logged after the fact (default: now): not before the lead was handed over, "
            "not in the future, and within the back-dating window (TOUCH_BACKDATE_BUSINESS_HOURS business hours). "
            "Its UTC offset is one places use: -12:00 to +14:00."
        ),
    )
    note = _note()


class BulkRejectSerializer(RejectSerializer):
    ids = serializers.ListField(
        child=StrictIntegerField(min_value=1),
        allow_empty=False,
        min_length=1,  # the same as allow_empty=False, which the schema does not show: minItems 1
        max_length=MAX_BATCH,
        help_text="The handoffs to reject, all or none.",
    )


class BulkRejectResultSerializer(serializers.Serializer):
    results = HandoffSerializer(many=True)
