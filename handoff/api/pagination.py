"""Cursor pagination: stable pages while new leads keep arriving."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination


class NewestFirstCursorPagination(CursorPagination):
    """Newest first by id, or by the view's own `ordering` (e.g. handoffs by `-handed_at, -id`).

    The first ordering field is the cursor position, so it must be indexed, never null and nearly unique.
    """

    ordering = ("-id",)
    page_size_query_param = "page_size"
    max_page_size = 500
    page_size_query_description = f"Rows per page: 1 or more, at most {max_page_size} (a larger ask gets that many)."

    def get_ordering(self, request, queryset, view):
        # DRF reads `view.ordering` only through an OrderingFilter; these views order one fixed way each.
        ordering = getattr(view, "ordering", None)
        if ordering:
            return (ordering,) if isinstance(ordering, str) else tuple(ordering)
        return super().get_ordering(request, queryset, view)

    def paginate_queryset(self, queryset, request, view=None):
        self._position_field = queryset.model._meta.get_field(self.get_ordering(request, queryset, view)[0].lstrip("-"))
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request) -> int:
        """DRF ignores a page size it cannot read (`page_size=abc` gave the default page): here it is a 400."""
        text = request.query_params.get(self.page_size_query_param, "")
        if text == "":
            return self.page_size
        if not text.isascii() or not text.isdigit() or int(text) < 1:
            raise ValidationError(
                {self.page_size_query_param: f"Give a whole number of rows from 1 to {self.max_page_size}."},
                code="invalid",
            )
        return min(int(text), self.max_page_size)

    def decode_cursor(self, request):
        """A cursor whose position does not fit the ordering field (a hand-made one) is a stale cursor: 404.

        DRF decodes the cursor's base64 but passes its position straight to the query, where text that is not a
        date (or a number) crashed the page with a 500.
        """
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            try:
                self._position_field.to_python(cursor.position)
            except (DjangoValidationError, ValueError, TypeError, OverflowError):
                raise NotFound(self.invalid_cursor_message) from None
        return cursor

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["minimum"] = 1
        return parameters
