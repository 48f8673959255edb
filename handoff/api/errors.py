"""One exception handler: domain errors become 400 / 403 / 409 with a message a person understands."""
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from handoff.exceptions import DomainError


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status)
    return drf_exception_handler(exc, context)
