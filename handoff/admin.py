"""Django admin: configuration (teams, people, reasons, lead definitions) is edited here; the record is read-only."""
from __future__ import annotations

import json

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.db.models import Count
from django.utils.html import format_html

from handoff.models import (
    Handoff,
    HandoffEvent,
    Lead,
    LeadDefinition,
    ReasonCode,
    RepProfile,
    SyncLease,
    SyncRun,
    SyncState,
    Team,
    Touch,
    WriteBack,
)
from handoff.services.definitions import definition_activate, definition_create, definition_revise


def pretty_json(value) -> str:
    return format_html("<pre style='margin:0;white-space:pre-wrap'>{}</pre>", json.dumps(value, indent=2, default=str))


class ReadOnlyAdmin(admin.ModelAdmin):
    """The record as it happened: visible to admins, changed only by the services that own it."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# --- People -----------------------------------------------------------------------------------
class RepProfileInline(admin.StackedInline):
    model = RepProfile
    can_delete = False
    fk_name = "user"
    fields = ["team", "time_zone", "calendar", "crm_user_id", "is_active"]


admin.site.unregister(User)


@admin.register(User)
class PersonAdmin(UserAdmin):
    inlines = [RepProfileInline]
    list_display = ["username", "first_name", "last_name", "email", "roles", "team", "is_staff", "is_active"]
    list_filter = ["groups", "profile__team", "is_staff", "is_active"]
    list_select_related = ["profile__team"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="Roles")
    def roles(self, user) -> str:
        return ", ".join(group.name for group in user.groups.all())

    @admin.display(description="Team", ordering="profile__team__name")
    def team(self, user) -> str:
        profile = getattr(user, "profile", None)
        return str(profile.team) if profile is not None and profile.team else "—"


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "manager", "member_count"]
    search_fields = ["name", "manager__username", "manager__last_name"]
    autocomplete_fields = ["manager"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("manager").annotate(member_count=Count("members"))

    @admin.display(description="Members", ordering="member_count")
    def member_count(self, team) -> int:
        return team.member_count


@admin.register(RepProfile)
class RepProfileAdmin(admin.ModelAdmin):
    list_display = ["__str__", "team", "time_zone", "crm_user_id", "is_active"]
    list_filter = ["team", "is_active", "time_zone"]
    list_select_related = ["user", "team"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "crm_user_id"]
    autocomplete_fields = ["user"]


# --- Leads and the rules of engagement ----------------------------------------------------------
@admin.register(Lead)
class LeadAdmin(ReadOnlyAdmin):
    """A mirror of the CRM: change a lead in Salesforce; the next sync brings it here."""

    list_display = ["__str__", "company", "email", "lead_source", "score", "owner", "is_converted", "is_deleted",
                    "crm_created_at"]
    list_filter = ["is_converted", "is_deleted", "lead_source", "country", ("owner", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["owner"]
    search_fields = ["crm_id", "first_name", "last_name", "email", "company"]
    date_hierarchy = "crm_created_at"
    exclude = ["raw"]
    readonly_fields = ["raw_fields"]

    @admin.display(description="Raw CRM fields")
    def raw_fields(self, lead) -> str:
        return pretty_json(lead.raw)


@admin.register(LeadDefinition)
class LeadDefinitionAdmin(admin.ModelAdmin):
    list_display = ["version", "name", "is_active", "conditions_text", "handoff_count", "created_at", "created_by"]
    list_filter = ["is_active"]
    list_select_related = ["created_by"]
    search_fields = ["name", "description"]
    actions = ["activate", "revise_as_new_version"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(handoff_count=Count("handoffs"))

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["name", "description", "conditions"]})]
        if obj.has_judged:
            locked = (
                f"v{obj.version} has judged leads, so it cannot change: handoffs keep the terms they were judged "
                "by. To change the criteria, select it in the list and run “Revise as new version”, edit the "
                "copy, then activate it."
            )
            return [
                (None, {"fields": ["version", "name", "description", "conditions_text", "is_active"],
                        "description": locked}),
                ("Record", {"fields": ["created_by", "created_at"]}),
            ]
        return [
            (None, {"fields": ["version", "name", "description", "conditions", "is_active"]}),
            ("Record", {"fields": ["created_by", "created_at"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        fixed = ["version", "is_active", "created_by", "created_at", "conditions_text"]
        if obj is not None and obj.has_judged:
            # Handoffs point at this version as the terms they were judged by: it never changes.
            return [*fixed, "name", "description", "conditions"]
        return fixed

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if "conditions" in form.base_fields:
            form.base_fields["conditions"].help_text = (
                LeadDefinition._meta.get_field("conditions").help_text
                + " Once a version has judged a lead it cannot change: select it in the list and run "
                "“Revise as new version” to get an editable copy, then activate that."
            )
        return form

    def save_model(self, request, obj, form, change) -> None:
        # Versions are numbered and revised by the service, so every version stays what it was.
        if change and obj.has_judged:
            return
        if change:
            saved = definition_revise(
                definition=obj, conditions=obj.conditions, name=obj.name, description=obj.description,
                revised_by=request.user,
            )
        else:
            saved = definition_create(
                name=obj.name, description=obj.description, conditions=obj.conditions, created_by=request.user
            )
        obj.pk, obj.version = saved.pk, saved.version

    def has_delete_permission(self, request, obj=None) -> bool:
        return obj is not None and not obj.has_judged and not obj.is_active

    @admin.display(description="Conditions")
    def conditions_text(self, definition) -> str:
        from handoff.rules import parse_conditions

        try:
            return "; ".join(str(c) for c in parse_conditions(definition.conditions)) or "—"
        except ValueError:
            return "(invalid)"

    @admin.display(description="Handoffs", ordering="handoff_count")
    def handoff_count(self, definition) -> int:
        return definition.handoff_count

    @admin.action(description="Activate (the version in force for new qualifications)")
    def activate(self, request, queryset) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one definition to activate.", messages.ERROR)
            return
        definition = definition_activate(definition=queryset.get())
        self.message_user(request, f"{definition} is now the definition in force.", messages.SUCCESS)

    @admin.action(description="Revise as new version (an editable, inactive copy)")
    def revise_as_new_version(self, request, queryset) -> None:
        for definition in queryset:
            copy = definition_create(
                name=definition.name,
                description=definition.description,
                conditions=definition.conditions,
                created_by=request.user,
            )
            self.message_user(
                request, f"Created v{copy.version} from v{definition.version}: edit it, then activate it.",
                messages.SUCCESS,
            )


@admin.register(ReasonCode)
class ReasonCodeAdmin(admin.ModelAdmin):
    list_display = ["label", "kind", "code", "requires_note", "is_market_signal", "is_active"]
    list_filter = ["kind", "is_active", "requires_note", "is_market_signal"]
    list_editable = ["is_active"]
    search_fields = ["code", "label"]

    def get_readonly_fields(self, request, obj=None):
        # Events and reports refer to a reason by kind and code; retire a reason instead of renaming it.
        return ["kind", "code"] if obj is not None else []

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# --- The record -----------------------------------------------------------------------------------
class HandoffEventInline(admin.TabularInline):
    model = HandoffEvent
    fields = ["at", "action", "from_state", "to_state", "actor_kind", "actor", "reason", "note"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class TouchInline(admin.TabularInline):
    model = Touch
    fields = ["at", "kind", "outcome", "by", "note"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Handoff)
class HandoffAdmin(ReadOnlyAdmin):
    """State changes only through the state machine (the pages, the API, the sync); here they can be read."""

    list_display = ["lead", "sequence", "state", "owner", "definition", "qualified_at", "handed_at", "accepted_at",
                    "first_touch_at"]
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


# --- CRM sync bookkeeping ------------------------------------------------------------------------
@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "kind", "outcome", "fetched", "created", "updated", "deleted", "qualified",
                    "api_calls", "finished_at"]
    list_filter = ["kind", "outcome", "used_bulk"]
    date_hierarchy = "started_at"


@admin.register(SyncState)
class SyncStateAdmin(ReadOnlyAdmin):
    list_display = ["sobject", "watermark", "deletes_checked_until", "last_success_at", "last_reconcile_at"]


@admin.register(SyncLease)
class SyncLeaseAdmin(ReadOnlyAdmin):
    list_display = ["name", "holder", "expires_at"]

    def has_delete_permission(self, request, obj=None) -> bool:
        # Freeing a stuck lease by hand is the one edit an operator may need.
        return request.user.is_superuser


@admin.register(WriteBack)
class WriteBackAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "lead", "action", "status", "attempts", "next_attempt_at", "error_code"]
    list_filter = ["status", "action"]
    list_select_related = ["lead"]
    search_fields = ["lead__crm_id", "lead__last_name", "error_code"]
    readonly_fields = ["changes_pretty"]
    exclude = ["changes"]

    @admin.display(description="Changes")
    def changes_pretty(self, writeback) -> str:
        return pretty_json(writeback.changes)


# --- SLA: calendars, policies, clocks and notices ---------------------------------------------
from handoff.models import BusinessCalendar, CalendarDay, Milestone, SlaNotification, SlaPolicy  # noqa: E402
from handoff.services.notifications import notifications_retry  # noqa: E402
from handoff.services.sla import sla_policy_save  # noqa: E402


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
    list_display = ["handoff", "kind", "round", "segment", "due_at", "met_at", "breached_at", "stopped_at",
                    "paused_at", "business_seconds_taken"]
    list_filter = ["kind", "segment", "policy", ("breached_at", admin.EmptyFieldListFilter),
                   ("met_at", admin.EmptyFieldListFilter)]
    list_select_related = ["handoff__lead", "policy"]
    search_fields = ["handoff__lead__last_name", "handoff__lead__company", "handoff__lead__crm_id"]
    date_hierarchy = "due_at"


@admin.register(SlaNotification)
class SlaNotificationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "handoff", "milestone_kind", "kind", "status", "attempts", "next_attempt_at",
                    "recipients", "last_error"]
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


# --- Sales feedback on lead quality ---------------------------------------------------------------
from handoff.models import (  # noqa: E402
    FeedbackDigest,
    FeedbackPointReached,
    FeedbackReasonTally,
    FeedbackRequest,
    FeedbackScan,
    FeedbackTally,
    LeadFeedback,
    LeadFeedbackRevision,
)


@admin.register(FeedbackRequest)
class FeedbackRequestAdmin(ReadOnlyAdmin):
    """Asked by the request job, answered by the rep: read here; feedback points are set on each SLA policy."""

    list_display = ["asked_at", "handoff", "rater", "point", "outcome", "digests", "lead_source", "segment",
                    "definition", "policy"]
    list_filter = ["outcome", "point", "segment", "definition", "policy"]
    list_select_related = ["handoff__lead", "rater", "definition", "policy"]
    search_fields = ["handoff__lead__last_name", "handoff__lead__company", "handoff__lead__crm_id",
                     "rater__username"]
    date_hierarchy = "asked_at"


class LeadFeedbackRevisionInline(admin.TabularInline):
    model = LeadFeedbackRevision
    fields = ["revision", "at", "rating", "reasons", "note", "by", "via"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


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

    list_display = ["day", "lead_source", "segment", "definition", "pending", "answered", "expired", "rated_1",
                    "rated_2", "rated_3", "rated_4", "rated_5"]
    list_filter = ["segment", "definition"]
    date_hierarchy = "day"


@admin.register(FeedbackReasonTally)
class FeedbackReasonTallyAdmin(ReadOnlyAdmin):
    list_display = ["day", "lead_source", "segment", "definition", "reason", "given"]
    list_filter = ["reason", "segment", "definition"]
    list_select_related = ["reason", "definition"]
    date_hierarchy = "day"

