"""The record of handoffs, their events and touches: read-only, written only by the state machine."""

from __future__ import annotations

from django.contrib import admin

from handoff.models import (
    Handoff,
    HandoffEvent,
    Touch,
)

from .base import ReadOnlyAdmin, ReadOnlyInline, pretty_json


class HandoffEventInline(ReadOnlyInline):
    model = HandoffEvent
    fields = ["at", "action", "from_state", "to_state", "actor_kind", "actor", "reason", "note"]
    show_change_link = True


class TouchInline(ReadOnlyInline):
    model = Touch
    fields = ["at", "kind", "outcome", "by", "note"]


@admin.register(Handoff)
class HandoffAdmin(ReadOnlyAdmin):
    """State changes only through the state machine (the pages, the API, the sync); here they can be read."""

    list_display = [
        "lead",
        "sequence",
        "state",
        "owner",
        "definition",
        "qualified_at",
        "handed_at",
        "accepted_at",
        "first_touch_at",
    ]
    list_filter = ["state", ("owner", admin.RelatedOnlyFieldListFilter), "definition", "qualified_by_kind"]
    list_select_related = ["lead", "owner", "definition"]
    search_fields = ["lead__first_name", "lead__last_name", "lead__email", "lead__company", "lead__crm_id"]
    date_hierarchy = "handed_at"
    inlines = [HandoffEventInline, TouchInline]


@admin.register(HandoffEvent)
class HandoffEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "lead", "action", "from_state", "to_state", "actor_kind", "actor", "reason", "definition"]
    list_filter = ["action", "actor_kind", "to_state", "definition"]
    list_select_related = ["lead", "actor", "reason", "definition"]
    search_fields = ["lead__first_name", "lead__last_name", "lead__company", "lead__crm_id", "note"]
    date_hierarchy = "at"
    readonly_fields = ["data_pretty"]
    exclude = ["data"]

    @admin.display(description="Data")
    def data_pretty(self, event) -> str:
        return pretty_json(event.data)


@admin.register(Touch)
class TouchAdmin(ReadOnlyAdmin):
    list_display = ["at", "handoff", "kind", "outcome", "by"]
    list_filter = ["kind", "outcome"]
    list_select_related = ["handoff__lead", "by"]
    search_fields = ["handoff__lead__first_name", "handoff__lead__last_name", "handoff__lead__company", "note"]
    date_hierarchy = "at"
