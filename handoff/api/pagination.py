"""Cursor pagination: stable pages while new leads keep arriving."""

from rest_framework.pagination import CursorPagination


class NewestFirstCursorPagination(CursorPagination):
    """Newest first by id, or by the view's own `ordering` (e.g. handoffs by `-handed_at, -id`).

    The first ordering field is the cursor position, so it must be indexed, never null and nearly unique.
    """

    ordering = ("-id",)
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_ordering(self, request, queryset, view):
        # DRF reads `view.ordering` only through an OrderingFilter; these views order one fixed way each.
        ordering = getattr(view, "ordering", None)
        if ordering:
            return (ordering,) if isinstance(ordering, str) else tuple(ordering)
        return super().get_ordering(request, queryset, view)
