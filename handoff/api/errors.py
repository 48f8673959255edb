"""One exception handler: every error body is {"detail", "code", "field"?}, domain errors as 400 / 403 / 409."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404
from rest_framework.exceptions import APIException, ErrorDetail, NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from handoff.exceptions import DomainError


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response({"detail": f"The request body is over {limit} bytes.", "code": "too_large"}, status=413)
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return Response({"detail": str(exc), "code": "too_many_fields"}, status=400)
    # As DRF's own handler does, so that these get the same body as every other error.
    if isinstance(exc, Http404):
        exc = NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = PermissionDenied(*exc.args)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, APIException):
        response.data = _validation_body(exc.detail) if isinstance(exc, ValidationError) else _body(exc.detail)
    return response


def _body(detail) -> dict:
    if isinstance(detail, ErrorDetail):
        return {"detail": str(detail), "code": detail.code}
    return {"detail": str(detail), "code": "error"}


def _validation_body(detail) -> dict:
    """The first problem of a (possibly nested) validation error, with the path of the field it concerns."""
    path: list[str] = []
    while isinstance(detail, dict | list) and detail:
        if isinstance(detail, dict):
            key = next(iter(detail))
            path.append(str(key))
            detail = detail[key]
        else:
            detail = detail[0]
    body = _body(detail)
    field = ".".join(part for part in path if part != "non_field_errors")
    if field:
        body["field"] = field
    return body
