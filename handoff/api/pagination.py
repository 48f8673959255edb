"""Cursor pagination: stable pages while new leads keep arriving."""
from rest_framework.pagination import CursorPagination


class NewestFirstCursorPagination(CursorPagination):
    ordering = ("-id",)
    page_size_query_param = "page_size"
    max_page_size = 500
