"""Routing: rules versions (saved through the service; frozen once they routed a lead), teams' settings, reps' shares
and away periods (through the services, validation naming the field), and the record of routing (read-only)."""

from __future__ import annotations

from django.contrib import admin, messages

from handoff.exceptions import DomainError
from handoff.models import (
    AwayPeriod,
    HandoffRouting,
    RepRouting,
    RepRoutingDay,
    RoutingNotice,
    RoutingRules,
    Team,
    TeamRouting,
)
from handoff.services.actors import Actor
from handoff.services.routing import (
    away_period_cancel,
    away_period_set,
    rep_routing_update,
    routing_rules_activate,
    routing_rules_save,
    team_routing_update,
)
from handoff.territories import parse_territories

from .base import ReadOnlyAdmin

FROZEN = ["version", "territories", "catch_all_team"]


@admin.register(RoutingRules)
class RoutingRulesAdmin(admin.ModelAdmin):
    list_display = ["version", "name", "is_active", "territories_text", "catch_all_team", "first_routed_at"]
    list_filter = ["is_active"]
    list_select_related = ["catch_all_team"]
    actions = ["activate", "revise_as_new_version"]
    readonly_fields = ["territories_text", "first_routed_at", "created_by", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_applied:
            # Handoffs record this version as the one that routed them: it never changes.
            return [*FROZEN, *self.readonly_fields]
        return ["version", *self.readonly_fields] if obj is not None else self.readonly_fields

    def get_fields(self, request, obj=None):
        fields = ["name", "description", "territories", "catch_all_team", "is_active", "territories_text"]
        return ["version", *fields, "first_routed_at", "created_by", "created_at"] if obj is not None else fields

    def save_model(self, request, obj, form, change) -> None:
        # The form validated every field (the model's clean names `territories`); the service numbers versions and
        # keeps one active.
        try:
            routing_rules_save(rules=obj, saved_by=request.user)
        except DomainError as exc:
            self.message_user(request, f"Not saved: {exc.message}", messages.ERROR)

    def has_delete_permission(self, request, obj=None) -> bool:
        return obj is not None and not obj.is_applied and not obj.is_active

    @admin.display(description="Territories")
    def territories_text(self, rules) -> str:
        try:
            territories = parse_territories(rules.territories)
        except ValueError:
            return "(invalid)"
        names = dict(Team.objects.values_list("pk", "name"))
        lines = [
            f"{i}. {t.name}: {'; '.join(str(c) for c in t.conditions)} → {names.get(t.team, t.team)}"
            for i, t in enumerate(territories, 1)
        ]
        return " | ".join([*lines, f"else → {rules.catch_all_team}"]) if rules.catch_all_team_id else " | ".join(lines)

    @admin.action(description="Activate (the rules in force for routing)")
    def activate(self, request, queryset) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return
        rules = routing_rules_activate(rules=queryset.get())
        self.message_user(request, f"{rules} are now the routing rules in force.", messages.SUCCESS)

    @admin.action(description="Revise as new version (an editable, inactive copy)")
    def revise_as_new_version(self, request, queryset) -> None:
        for rules in queryset:
            copy = routing_rules_save(
                rules=RoutingRules(name=rules.name, description=rules.description, territories=rules.territories,
                                   catch_all_team=rules.catch_all_team),
                saved_by=request.user,
            )
            self.message_user(request, f"Created v{copy.version} from v{rules.version}: edit it, then activate it.",
                              messages.SUCCESS)


class ThroughService:
    """An admin whose saves go through a routing service. The form has already validated each field (the model's
    validators and clean name it); a refusal left to the service (a role) is shown as a message."""

    def _saved(self, request, call) -> None:
        try:
            call()
        except DomainError as exc:
            self.message_user(request, f"Not saved: {exc.message}", messages.ERROR)


@admin.register(RepRouting)
class RepRoutingAdmin(ThroughService, admin.ModelAdmin):
    list_display = ["user", "weight", "daily_cap", "open_cap", "assigned", "credit"]
    fields = ["user", "weight", "daily_cap", "open_cap", "assigned", "credit"]
    readonly_fields = ["assigned", "credit"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]

    def get_readonly_fields(self, request, obj=None):
        return ["user", *self.readonly_fields] if obj is not None else self.readonly_fields

    def save_model(self, request, obj, form, change) -> None:
        self._saved(request, lambda: rep_routing_update(
            rep=obj.user, actor=Actor.person(request.user), weight=obj.weight, daily_cap=obj.daily_cap,
            open_cap=obj.open_cap,
        ))


@admin.register(AwayPeriod)
class AwayPeriodAdmin(ThroughService, admin.ModelAdmin):
    list_display = ["user", "starts_on", "ends_on", "note", "set_by"]
    list_filter = ["starts_on"]
    fields = ["user", "starts_on", "ends_on", "note"]
    search_fields = ["user__username"]

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None  # set anew or removed, never edited in place

    def save_model(self, request, obj, form, change) -> None:
        def set_away():
            saved = away_period_set(rep=obj.user, actor=Actor.person(request.user), starts_on=obj.starts_on,
                                    ends_on=obj.ends_on, note=obj.note)
            obj.pk = saved.pk

        self._saved(request, set_away)

    def delete_model(self, request, obj) -> None:
        away_period_cancel(period=obj, actor=Actor.person(request.user))

    def delete_queryset(self, request, queryset) -> None:
        for period in queryset:
            away_period_cancel(period=period, actor=Actor.person(request.user))


@admin.register(TeamRouting)
class TeamRoutingAdmin(admin.ModelAdmin):
    list_display = ["team", "skip_outside_hours"]

    def get_readonly_fields(self, request, obj=None):
        return ["team"] if obj is not None else []

    def save_model(self, request, obj, form, change) -> None:
        team_routing_update(team=obj.team, actor=Actor.person(request.user), skip_outside_hours=obj.skip_outside_hours)


@admin.register(HandoffRouting)
class HandoffRoutingAdmin(ReadOnlyAdmin):
    list_display = ["handoff", "status", "team", "territory", "rules", "routed_to", "queued_at", "routed_at",
                    "attempts"]
    list_filter = ["status", "team"]
    list_select_related = ["handoff__lead", "team", "rules", "routed_to"]


@admin.register(RoutingNotice)
class RoutingNoticeAdmin(ReadOnlyAdmin):
    list_display = ["team", "status", "created_at", "sent_at", "recipients", "attempts"]
    list_filter = ["status"]


@admin.register(RepRoutingDay)
class RepRoutingDayAdmin(ReadOnlyAdmin):
    list_display = ["user", "day", "assigned"]
    list_filter = ["day"]
    list_select_related = ["user"]
