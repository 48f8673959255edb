"""The OpenAPI schema class: drf-spectacular's, with every error an operation can answer documented.

drf-spectacular documents the responses a view declares; the errors DRF itself answers (401 without credentials,
403 from a permission or a missing CSRF token, 400 from a filter, a page size or a body that does not parse, 404 from a
detail route or a stale cursor, 413 from a body over the limit, 429 from a throttle) are added here from what the view
is, so the schema states every status a client can get, each with the one error body; and the web server's own 414
(a URL over its limit, an HTML page) on every operation.
"""

from __future__ import annotations

from drf_spectacular import openapi
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny, IsAuthenticated

ERRORS = {
    "400": "Bad input: a filter, a body that does not parse or breaks a rule; `field` names the input at fault.",
    "401": "No credentials, or credentials that are not valid (an unknown token, an inactive user).",
    "403": "Your role may not do this (or, with a session, the CSRF token is missing).",
    "404": "No such object, one you cannot see, or a cursor that is not valid.",
    "409": "The handoff is not in a state where this applies.",
    "413": "The request body is over the size limit.",
    "414": "The URL with its query string is longer than the server reads (4094 bytes): an HTML page from the web "
    "server (gunicorn, or the proxy in front of it), before the app sees the request.",
    "415": "The request body's content type is not one the endpoint reads.",
    "429": "Too many requests: wait as many seconds as the Retry-After header says.",
}

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
OFFSETS = "An ISO 8601 date-time; its UTC offset, if given, one places use: -12:00 to +14:00 (none: the server's zone)."


class AutoSchema(openapi.AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        from .serializers import ErrorSerializer  # the serializers module imports services; the schema loads early

        for code in sorted(self._error_statuses()):
            if code not in responses:
                responses[code] = self._get_response_for_code(ErrorSerializer, code, direction=direction)
            responses[code]["description"] = ERRORS[code]
        # Any request can be refused by the web server before the app (a fuzzer's 4 KB query string was).
        responses["414"] = {"description": ERRORS["414"], "content": {"text/html": {"schema": {"type": "string"}}}}
        return responses

    def _get_filter_parameters(self):
        from .filters import BooleanFilter, IntegerFilter, UtcDateTimeFilter  # imports the models

        typed = {
            IntegerFilter: {"type": "integer"},
            BooleanFilter: {"type": "boolean"},
            UtcDateTimeFilter: {"type": "string", "format": "date-time"},
        }
        filterset = getattr(self.view, "filterset_class", None)
        declared = filterset.base_filters if filterset is not None else {}
        parameters = super()._get_filter_parameters()
        for parameter in parameters:
            # drf-spectacular guesses a filter's type from its model field or its method's type hint, and guessed
            # "number" for the ids (`owner_id` is no model field) and "string" for `breached` and `due_before`
            # (filters with a method): the type each filter class reads.
            found = declared.get(parameter["name"])
            for filter_class, schema in typed.items():
                if isinstance(found, filter_class):
                    parameter["schema"] = dict(schema)
            if isinstance(found, UtcDateTimeFilter):
                said = parameter.get("description", "").rstrip(".")
                parameter["description"] = f"{said + '. ' if said else ''}{OFFSETS}"
        return parameters

    def _get_parameters(self):
        parameters = super()._get_parameters()
        for parameter in parameters:
            # An empty query value (`?owner=`, `?page_size=`, `?format=`) is read as the parameter left out, by
            # django-filter, the paginator and Django's forms alike, so the schema says it may be empty: without
            # that, `qualified_before=` was a value outside the stated date-time format that the API accepted. Not
            # the repeatable ones (`?state=`): an empty state is no state, and refused.
            # tests/api/test_hostile_input.py checks each, so a parameter that refuses an empty value must say so.
            schema = parameter.get("schema", {})
            if parameter.get("in") == "query" and not parameter.get("required") and schema.get("type") != "array":
                parameter["allowEmptyValue"] = True
        return parameters

    def _error_statuses(self) -> set[str]:
        view, codes = self.view, set()
        permissions = [type(p) for p in view.get_permissions()]
        if view.get_authenticators():
            codes.add("401")  # an invalid token is refused even where no login is needed
        if any(p not in (AllowAny, IsAuthenticated) for p in permissions):
            codes.add("403")
        has_body = self.method in UNSAFE
        if has_body:
            codes |= {"400", "413", "415"}
            if any(type(a).__name__ == "SessionAuthentication" for a in view.get_authenticators()):
                codes.add("403")  # CSRF
        if self._is_list_view():
            if getattr(view, "filterset_class", None) or getattr(view, "filterset_fields", None):
                codes.add("400")
            if isinstance(getattr(view, "paginator", None), CursorPagination):
                codes.add("404")  # DRF answers a cursor it cannot decode with 404 "Invalid cursor"
                codes.add("400")  # a page_size that is not a whole number from 1
        if "{" in self.path:
            codes.add("404")
        if view.get_throttles():
            codes.add("429")
        return codes
