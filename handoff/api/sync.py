"""GET /api/sync-runs/: the CRM sync's runs, newest first, for managers and admins."""
from __future__ import annotations

from rest_framework import permissions, serializers, viewsets

from handoff.models import Role, SyncRun
from handoff.selectors.people import user_has_role


class SyncRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = SyncRun
        fields = [
            "id",
            "kind",
            "outcome",
            "started_at",
            "finished_at",
            "watermark_before",
            "watermark_after",
            "used_bulk",
            "fetched",
            "created",
            "updated",
            "deleted",
            "qualified",
            "converted",
            "reassigned",
            "closed",
            "api_calls",
            "api_used",
            "api_limit",
            "error",
        ]
        read_only_fields = fields


class CanSeeSyncRuns(permissions.BasePermission):
    message = "Only managers and admins can see CRM sync runs."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and (user.is_staff or user_has_role(user, Role.MANAGER)))


class SyncRunViewSet(viewsets.ReadOnlyModelViewSet):
    """The CRM sync's runs: what each read, changed and cost, and how it ended. Filter with ?kind= and ?outcome=."""

    queryset = SyncRun.objects.all()
    serializer_class = SyncRunSerializer
    permission_classes = [permissions.IsAuthenticated, CanSeeSyncRuns]
    filterset_fields = ["kind", "outcome"]
