"""Sales feedback on lead quality: requests, ratings with their revisions, digests and tallies (read-only)."""

from __future__ import annotations

from django.contrib import admin

from handoff.models import (
    FeedbackDigest,
    FeedbackPointReached,
    FeedbackReasonTally,
    FeedbackRequest,
    FeedbackScan,
    FeedbackTally,
    LeadFeedback,
    LeadFeedbackRevision,
)

from .base import ReadOnlyAdmin, ReadOnlyInline


@admin.register(FeedbackRequest)
class FeedbackRequestAdmin(ReadOnlyAdmin):
    """Asked by the request job, answered by the rep: read here; feedback points are set on each SLA policy."""

    list_display = [
        "asked_at",
        "handoff",
        "rater",
        "point",
        "outcome",
        "digests",
        "lead_source",
        "segment",
        "definition",
        "policy",
    ]
    list_filter = ["outcome", "point", "segment", "definition", "policy"]
    list_select_related = ["handoff__lead", "rater", "definition", "policy"]
    search_fields = ["handoff__lead__last_name", "handoff__lead__company", "handoff__lead__crm_id", "rater__username"]
    date_hierarchy = "asked_at"


class LeadFeedbackRevisionInline(ReadOnlyInline):
    model = LeadFeedbackRevision
    fields = ["revision", "at", "rating", "reasons", "note", "by", "via"]


@admin.register(LeadFeedback)
class LeadFeedbackAdmin(ReadOnlyAdmin):
    list_display = ["changed_at", "handoff", "rater", "rating", "revision", "definition", "policy"]
    list_filter = ["rating", "definition", "policy", "reasons"]
    list_select_related = ["handoff__lead", "rater", "definition", "policy"]
    search_fields = ["handoff__lead__last_name", "handoff__lead__company", "rater__username", "note"]
    date_hierarchy = "given_at"
    inlines = [LeadFeedbackRevisionInline]


@admin.register(FeedbackDigest)
class FeedbackDigestAdmin(ReadOnlyAdmin):
    list_display = ["day", "rater", "listed", "status", "attempts", "next_attempt_at", "recipients", "last_error"]
    list_filter = ["status", "day"]
    list_select_related = ["rater"]
    search_fields = ["rater__username", "recipients", "last_error"]


@admin.register(LeadFeedbackRevision)
class LeadFeedbackRevisionAdmin(ReadOnlyAdmin):
    list_display = ["at", "feedback", "revision", "rating", "reasons", "by", "via"]
    list_filter = ["via", "rating"]
    list_select_related = ["feedback", "by"]
    date_hierarchy = "at"


@admin.register(FeedbackPointReached)
class FeedbackPointReachedAdmin(ReadOnlyAdmin):
    """Handoffs that reached an event feedback point since the request job last ran (it empties this)."""

    list_display = ["reached_at", "handoff", "rater", "point"]
    list_filter = ["point"]


@admin.register(FeedbackScan)
class FeedbackScanAdmin(ReadOnlyAdmin):
    """How far the request job has looked for handoffs accepted N business days ago, per calendar."""

    list_display = ["calendar", "business_days", "accepted_before"]


@admin.register(FeedbackTally)
class FeedbackTallyAdmin(ReadOnlyAdmin):
    """The lead quality report's counts per day handed over (kept by the feedback services; `manage.py
    rebuild_feedback_tallies` counts them again from the requests)."""

    list_display = [
        "day",
        "lead_source",
        "segment",
        "definition",
        "pending",
        "answered",
        "expired",
        "rated_1",
        "rated_2",
        "rated_3",
        "rated_4",
        "rated_5",
    ]
    list_filter = ["segment", "definition"]
    date_hierarchy = "day"


@admin.register(FeedbackReasonTally)
class FeedbackReasonTallyAdmin(ReadOnlyAdmin):
    list_display = ["day", "lead_source", "segment", "definition", "reason", "given"]
    list_filter = ["reason", "segment", "definition"]
    list_select_related = ["reason", "definition"]
    date_hierarchy = "day"
