"""Django's error views (handler400/403/404/500): under /api/ the API's one JSON error body, elsewhere a page.

DRF answers errors raised inside its views; these catch the rest: a URL no route matches (`/api/handoffs/1.5/`),
a body over DATA_UPLOAD_MAX_MEMORY_SIZE or with more than DATA_UPLOAD_MAX_NUMBER_FIELDS fields, a crash.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

API_PREFIX = "/api/"

_API_BODIES = {
    400: ("Bad request.", "bad_request"),
    403: ("You do not have permission to perform this action.", "permission_denied"),
    404: ("Not found.", "not_found"),
    500: ("Server error: the request was not completed. It has been logged.", "server_error"),
}


def _api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def api_error(status: int, detail: str | None = None, code: str | None = None) -> JsonResponse:
    default_detail, default_code = _API_BODIES[status]
    return JsonResponse({"detail": detail or default_detail, "code": code or default_code}, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _api(request):
        return api_error(400, detail=_said(exception, "Bad request."))
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _api(request):
        return api_error(403)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _api(request):
        return api_error(404, detail=f"No API endpoint or object at {request.path}.")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _api(request):
        return api_error(500)
    return defaults.server_error(request)


def _said(exception: Exception | None, fallback: str) -> str:
    text = str(exception) if exception is not None else ""
    return text if text and not text.startswith("<") else fallback
