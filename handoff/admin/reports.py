"""Manager reports' bookkeeping: the summary rows reports read (facts, disputes, day counts), the refresh mark, the
weekly mails (read-only)."""

from __future__ import annotations

from django.contrib import admin

from handoff.models import ReportDay, ReportDispute, ReportFact, ReportRefresh, WeeklySummary

from .base import ReadOnlyAdmin, pretty_json


@admin.register(ReportFact)
class ReportFactAdmin(ReadOnlyAdmin):
    list_display = ["handoff", "round", "qualified_at", "owner", "lead_source", "segment", "accept_status",
                    "first_touch_status", "refreshed_at"]
    list_filter = ["accept_status", "first_touch_status", "follow_up_status", "segment"]
    list_select_related = ["handoff__lead", "owner"]
    date_hierarchy = "qualified_at"


@admin.register(ReportDispute)
class ReportDisputeAdmin(ReadOnlyAdmin):
    list_display = ["handoff", "disputed_at", "resolved_at", "decision", "business_seconds", "owner"]
    list_filter = ["decision"]
    list_select_related = ["handoff__lead", "owner"]


@admin.register(ReportDay)
class ReportDayAdmin(ReadOnlyAdmin):
    list_display = ["day", "owner", "lead_source", "segment", "handoffs", "accepted", "rejected", "accept_met",
                    "accept_missed", "accept_running"]
    list_filter = ["segment"]
    list_select_related = ["owner"]
    date_hierarchy = "day"


@admin.register(ReportRefresh)
class ReportRefreshAdmin(ReadOnlyAdmin):
    list_display = ["pk", "refreshed_at", "rebuilt_at", "rows", "generation"]


@admin.register(WeeklySummary)
class WeeklySummaryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "manager", "week", "status", "attempts", "last_error"]
    list_filter = ["status", "week"]
    list_select_related = ["manager"]
    readonly_fields = ["figures_pretty"]

    @admin.display(description="Figures")
    def figures_pretty(self, summary) -> str:
        return pretty_json(summary.figures)
