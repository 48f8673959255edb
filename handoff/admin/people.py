"""People: logins with their roles, teams and rep profiles."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.db.models import Count

from handoff.models import (
    RepProfile,
    Team,
)


class RepProfileInline(admin.StackedInline):
    model = RepProfile
    can_delete = False
    fk_name = "user"
    fields = ["team", "calendar", "works_in", "crm_user_id", "is_active"]
    readonly_fields = ["works_in"]

    @admin.display(description="Works in")
    def works_in(self, profile) -> str:
        return works_in(profile)


def works_in(profile: RepProfile | None) -> str:
    """The calendar whose hours and zone count for this person, and where it comes from."""
    if profile is None or profile.pk is None:
        return "the default calendar"
    if profile.calendar_id:
        return f"{profile.calendar} ({profile.calendar.time_zone}), their own calendar"
    if profile.team_id and profile.team.calendar_id:
        return f"{profile.team.calendar} ({profile.team.calendar.time_zone}), the team's calendar"
    return "the default calendar"


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
    list_display = ["__str__", "team", "works_in", "crm_user_id", "is_active"]
    list_filter = ["team", "is_active", "calendar"]
    list_select_related = ["user", "team__calendar", "calendar"]
    fields = ["user", "team", "calendar", "works_in", "crm_user_id", "is_active"]
    readonly_fields = ["works_in"]

    @admin.display(description="Works in")
    def works_in(self, profile) -> str:
        return works_in(profile)
    search_fields = ["user__username", "user__first_name", "user__last_name", "crm_user_id"]
    autocomplete_fields = ["user"]
