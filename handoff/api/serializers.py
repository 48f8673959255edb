"""API shapes: what leads, handoffs and their history look like, and the body each action takes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from handoff.models import (
    Handoff,
    HandoffEvent,
    HandoffState,
    Lead,
    LeadDefinition,
    Milestone,
    ReasonCode,
    Touch,
)
from handoff.services.handoffs import (
    MAX_BATCH,
    MILESTONE_ACTIONS,
    Action,
    Decision,
    actions_reader,
    allowed_actions,
)

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


# ---------------------------------------------------------------------------------------------
# The lists' rows, from `.values()`: the same JSON as LeadSerializer and HandoffSerializer, at a fraction of the
# cost (nested ModelSerializers cost about half of a list request). The serializers above stay the contract: the
# OpenAPI schema is drawn from them, and tests/api/test_list_rows.py checks these rows equal their output.
# ---------------------------------------------------------------------------------------------
def _instant_formatter() -> Callable[[datetime | None], str | None]:
    """DRF's DateTimeField output (ISO 8601 in the active zone, "Z" for UTC), with the zone read once per page."""
    zone = timezone.get_current_timezone() if settings.USE_TZ else None
    # The database hands instants back in UTC: in a UTC zone there is nothing to convert.
    in_utc = zone is not None and zone.utcoffset(None) == timedelta(0) and str(zone) in ("UTC", "Etc/UTC")

    def instant(value: datetime | None) -> str | None:
        if not value:
            return None
        if not (in_utc and value.tzinfo is UTC) and zone is not None:
            value = value.astimezone(zone)
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return instant


def _person(row: dict, prefix: str) -> dict | None:
    """UserSummarySerializer's shape from the `<prefix>_id`, `<prefix>__username`, … columns of a row."""
    pk = row[f"{prefix}_id"]
    if pk is None:
        return None
    username = row[f"{prefix}__username"]
    full = f"{row[f'{prefix}__first_name']} {row[f'{prefix}__last_name']}".strip()
    return {"id": pk, "username": username, "name": full or username}


def _person_columns(prefix: str) -> tuple[str, ...]:
    return (f"{prefix}_id", f"{prefix}__username", f"{prefix}__first_name", f"{prefix}__last_name")


def _name(first: str, last: str) -> str:
    return " ".join(part for part in (first, last) if part)


LEAD_COLUMNS = (
    "id", "crm_id", "first_name", "last_name", "email", "company", "title", "country", "industry", "lead_source",
    "status", "score", *_person_columns("owner"), "is_converted", "converted_at", "is_deleted", "crm_created_at",
    "crm_modified_at", "open_handoff_id",
)


def lead_rows(rows: Iterable[dict]) -> list[dict]:
    """LeadSerializer's output for rows of `LEAD_COLUMNS`."""
    instant = _instant_formatter()
    return [
        {
            "id": r["id"],
            "crm_id": r["crm_id"],
            "name": _name(r["first_name"], r["last_name"]),
            "first_name": r["first_name"],
            "last_name": r["last_name"],
            "email": r["email"],
            "company": r["company"],
            "title": r["title"],
            "country": r["country"],
            "industry": r["industry"],
            "lead_source": r["lead_source"],
            "status": r["status"],
            "score": None if r["score"] is None else float(r["score"]),
            "owner": _person(r, "owner"),
            "is_converted": r["is_converted"],
            "converted_at": instant(r["converted_at"]),
            "is_deleted": r["is_deleted"],
            "crm_created_at": instant(r["crm_created_at"]),
            "crm_modified_at": instant(r["crm_modified_at"]),
            "open_handoff": r["open_handoff_id"],
        }
        for r in rows
    ]


HANDOFF_INSTANTS = (
    "qualified_at", "handed_at", "accepted_at", "rejected_at", "disputed_at", "resolved_at", "first_touch_at",
    "first_connect_at", "converted_at", "recycled_at", "closed_at", "updated_at",
)
# The handoff with its lead, definition and reasons in one query; the people (owner, qualifier, the owner's team)
# in another for the whole page: with their three tables joined too, PostgreSQL took 25 ms to plan the page query
# (the join order search grows fast past eight tables), 1 ms with five, and well under 1 ms to run it.
HANDOFF_COLUMNS = (
    "id", "sequence", "state", "note", "dispute_note", "qualified_by_kind", *HANDOFF_INSTANTS,
    "owner_id", "qualified_by_id",
    "lead_id", "lead__crm_id", "lead__first_name", "lead__last_name", "lead__email", "lead__company", "lead__country",
    "lead__lead_source", "lead__status", "lead__score",
    "definition_id", "definition__version", "definition__name",
    "reason_id", "reason__code", "reason__label", "dispute_reason_id", "dispute_reason__code", "dispute_reason__label",
)
_MILESTONE_COLUMNS = (
    "handoff_id", "kind", "round", "segment", "policy__version", "started_at", "due_at", "remind_at", "met_at",
    "breached_at", "stopped_at", "paused_at", "business_seconds_taken", "attempts", "attempts_required",
)


def _milestone_rows(handoff_ids: list[int], instant) -> dict[int, list[dict]]:
    """MilestoneSerializer's output for the clocks of these handoffs, in one query: handoff id → its clocks."""
    found: dict[int, list[dict]] = {pk: [] for pk in handoff_ids}
    clocks = Milestone.objects.filter(handoff_id__in=handoff_ids).order_by("handoff_id", "round", "due_at", "id")
    for (handoff_id, kind, round_, segment, version, started, due, remind, met, breached, stopped, paused, taken,
         attempts, required) in clocks.values_list(*_MILESTONE_COLUMNS):
        found[handoff_id].append(
            {
                "kind": kind,
                "round": round_,
                "segment": segment,
                "policy_version": version,
                "started_at": instant(started),
                "due_at": instant(due),
                "remind_at": instant(remind),
                "met_at": instant(met),
                "breached_at": instant(breached),
                "stopped_at": instant(stopped),
                "paused_at": instant(paused),
                "business_seconds_taken": taken,
                "attempts": attempts,
                "attempts_required": required,
                "is_breach": breached is not None or (met is not None and met > due),
            }
        )
    return found


def _reason_summary(row: dict, prefix: str) -> dict | None:
    if row[f"{prefix}_id"] is None:
        return None
    return {"code": row[f"{prefix}__code"], "label": row[f"{prefix}__label"]}


def _people(ids: set[int]) -> dict[int, tuple[dict, int | None]]:
    """user id → (UserSummarySerializer's shape, the user's team id), in one query."""
    users = get_user_model().objects.filter(pk__in=ids)
    found = {}
    for pk, username, first, last, team_id in users.values_list(
        "pk", "username", "first_name", "last_name", "profile__team_id"
    ):
        found[pk] = ({"id": pk, "username": username, "name": f"{first} {last}".strip() or username}, team_id)
    return found


def handoff_rows(rows: Iterable[dict], *, actor) -> list[dict]:
    """HandoffSerializer's output for rows of `HANDOFF_COLUMNS`, the actions those of `actor`: a query each for the
    page's milestones and people."""
    rows = list(rows)
    instant = _instant_formatter()
    clocks = _milestone_rows([r["id"] for r in rows], instant)
    people = _people({r[k] for r in rows for k in ("owner_id", "qualified_by_id")} - {None})
    actions = actions_reader(actor)
    out = []
    for r in rows:
        owner_id, qualified_by_id = r["owner_id"], r["qualified_by_id"]
        item = {
            "id": r["id"],
            "lead": {
                "id": r["lead_id"],
                "crm_id": r["lead__crm_id"],
                "name": _name(r["lead__first_name"], r["lead__last_name"]),
                "email": r["lead__email"],
                "company": r["lead__company"],
                "country": r["lead__country"],
                "lead_source": r["lead__lead_source"],
                "status": r["lead__status"],
                "score": None if r["lead__score"] is None else float(r["lead__score"]),
            },
            "sequence": r["sequence"],
            "state": r["state"],
            "owner": None if owner_id is None else people[owner_id][0],
            "definition": {"id": r["definition_id"], "version": r["definition__version"],
                           "name": r["definition__name"]},
            "qualified_by_kind": r["qualified_by_kind"],
            "qualified_by": None if qualified_by_id is None else people[qualified_by_id][0],
            "reason": _reason_summary(r, "reason"),
            "note": r["note"],
            "dispute_reason": _reason_summary(r, "dispute_reason"),
            "dispute_note": r["dispute_note"],
        }
        for name in HANDOFF_INSTANTS:
            item[name] = instant(r[name])
        item["milestones"] = clocks[r["id"]]
        item["actions"] = actions(r["state"], owner_id, None if owner_id is None else people[owner_id][1])
        out.append(item)
    return out


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


class ClockNoteSerializer(serializers.Serializer):
    """A manual pause or resume of a handoff's SLA milestones: the reason is required (it goes into the history)."""

    note = StrictCharField(
        max_length=2000,
        help_text="Why the clocks stop or start again, e.g. 'The customer asked to be called after the 20th'.",
        error_messages={"required": "Say why: a reason is required.", "blank": "Say why: a reason is required."},
    )


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
