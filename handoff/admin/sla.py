"""The SLA: business calendars, policy versions (saved through the service), milestones and notifications."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.text import capfirst

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
from .widgets import DayHoursField, SegmentsField, WeeklyHoursField, intervals_text


class StructuredFields:
    """The JSON fields edited as structured inputs (admin/widgets.py) instead of raw JSON."""

    structured: dict = {}

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field_class = self.structured.get(db_field.name)
        if field_class is not None:
            return field_class(label=capfirst(db_field.verbose_name), required=not db_field.blank)
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class CalendarDayInline(StructuredFields, admin.TabularInline):
    model = CalendarDay
    extra = 1
    fields = ["date", "hours", "note"]
    structured = {"hours": DayHoursField}
    verbose_name = "closure or extra working day"
    verbose_name_plural = "closures and extra working days (leave, company holidays, a Saturday event)"


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(StructuredFields, admin.ModelAdmin):
    list_display = ["name", "time_zone", "holiday_country", "holiday_subdivision", "is_default", "updated_at"]
    list_filter = ["is_default", "time_zone", "holiday_country"]
    search_fields = ["name"]
    inlines = [CalendarDayInline]
    structured = {"weekly_hours": WeeklyHoursField}


@admin.register(CalendarDay)
class CalendarDayAdmin(StructuredFields, admin.ModelAdmin):
    list_display = ["date", "calendar", "hours_text", "note"]
    list_filter = ["calendar"]
    date_hierarchy = "date"
    structured = {"hours": DayHoursField}

    @admin.display(description="Hours")
    def hours_text(self, day) -> str:
        return intervals_text(day.hours) or "closed"


@admin.register(SlaPolicy)
class SlaPolicyAdmin(StructuredFields, admin.ModelAdmin):
    structured = {"segments": SegmentsField}
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
