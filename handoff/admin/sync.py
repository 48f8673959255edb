"""CRM sync bookkeeping: runs, state, the lease and the write-back outbox (read-only)."""

from __future__ import annotations

from django.contrib import admin

from handoff.models import (
    SyncLease,
    SyncRun,
    SyncState,
    WriteBack,
)

from .base import ReadOnlyAdmin, pretty_json


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = [
        "started_at",
        "kind",
        "outcome",
        "fetched",
        "created",
        "updated",
        "deleted",
        "qualified",
        "api_calls",
        "finished_at",
    ]
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
