"""The agreement's vocabulary: lead definitions (versioned) and reason codes; the lead mirror, read-only."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count

from handoff.models import (
    Lead,
    LeadDefinition,
    ReasonCode,
)
from handoff.rules import parse_conditions
from handoff.services.definitions import definition_activate, definition_create, definition_revise

from .base import ReadOnlyAdmin, pretty_json


@admin.register(Lead)
class LeadAdmin(ReadOnlyAdmin):
    """A mirror of the CRM: change a lead in Salesforce; the next sync brings it here."""

    list_display = [
        "__str__",
        "company",
        "email",
        "lead_source",
        "score",
        "owner",
        "is_converted",
        "is_deleted",
        "crm_created_at",
    ]
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
                (
                    None,
                    {
                        "fields": ["version", "name", "description", "conditions_text", "is_active"],
                        "description": locked,
                    },
                ),
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
                definition=obj,
                conditions=obj.conditions,
                name=obj.name,
                description=obj.description,
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
                request,
                f"Created v{copy.version} from v{definition.version}: edit it, then activate it.",
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
