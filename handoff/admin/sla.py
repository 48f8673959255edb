"""The SLA: business calendars, policy versions (saved through the service), milestones and notifications."""

from __future__ import annotations

from django.contrib import admin, messages

from handoff.models import (
    BusinessCalendar,
    CalendarDay,
    Milestone,
    SlaNotification,
    SlaPolicy,
)
from handoff.services.notifications import notifications_retry
from handoff.services.sla import sla_policy_save

from .base import ReadOnlyAdmin


class CalendarDayInline(admin.TabularInline):
    model = CalendarDay
    extra = 1
    fields = ["date", "hours", "note"]


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone", "holiday_country", "holiday_subdivision", "is_default", "updated_at"]
    list_filter = ["is_default", "time_zone", "holiday_country"]
    search_fields = ["name"]
    inlines = [CalendarDayInline]


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    list_display = ["date", "calendar", "hours", "note"]
    list_filter = ["calendar"]
    date_hierarchy = "date"


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = ["version", "name", "is_active", "escalation", "reminder_share", "created_at"]
    list_filter = ["is_active"]
    # "Save as new" is how a clocked version is revised: bump the version and save a copy.
    save_as = True

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.has_clocked:
            return [f for f in SlaPolicy.TERMS]
        return []

    def save_model(self, request, obj, form, change) -> None:
        # The form has validated the fields, and an applied version's terms are read-only here.
        sla_policy_save(policy=obj, saved_by=request.user)


@admin.register(Milestone)
class MilestoneAdmin(ReadOnlyAdmin):
    list_display = [
        "handoff",
        "kind",
        "round",
        "segment",
        "due_at",
        "met_at",
        "breached_at",
        "stopped_at",
        "paused_at",
        "business_seconds_taken",
    ]
    list_filter = [
        "kind",
        "segment",
        "policy",
        ("breached_at", admin.EmptyFieldListFilter),
        ("met_at", admin.EmptyFieldListFilter),
    ]
    list_select_related = ["handoff__lead", "policy"]
    search_fields = ["handoff__lead__last_name", "handoff__lead__company", "handoff__lead__crm_id"]
    date_hierarchy = "due_at"


@admin.register(SlaNotification)
class SlaNotificationAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "handoff",
        "milestone_kind",
        "kind",
        "status",
        "attempts",
        "next_attempt_at",
        "recipients",
        "last_error",
    ]
    list_filter = ["status", "kind", "milestone_kind"]
    list_select_related = ["milestone__handoff__lead"]
    search_fields = ["milestone__handoff__lead__last_name", "recipients", "last_error"]
    actions = ["retry_now"]

    @admin.action(description="Retry the selected failed or waiting notices now")
    def retry_now(self, request, queryset) -> None:
        count = notifications_retry(ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} notice(s) will be sent by the next sender run.", messages.SUCCESS)

    def has_change_permission(self, request, obj=None) -> bool:
        # The retry action needs change permission; the fields stay read-only (no add, no form edits).
        return obj is None and request.user.is_superuser
