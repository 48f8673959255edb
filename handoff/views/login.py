"""The login pages (ours and the admin's) with the sign-in limits of `handoff.throttling` in front."""

from __future__ import annotations

import functools
import math

from django.contrib import messages
from django.contrib.auth.views import LogoutView
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

from handoff.throttling import REQUEST_ATTRIBUTE, LoginAttempt


def throttle_login(view):
    """Count each sign-in POST against the limits; over one, a 429 page saying how long to wait (Retry-After)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method != "POST":
            return view(request, *args, **kwargs)
        attempt = LoginAttempt()
        wait = attempt.check(request)
        if wait is not None:
            return throttled_page(request, wait)
        # A successful sign-in gives the attempt back (the user_logged_in receiver in handoff.throttling).
        setattr(request, REQUEST_ATTRIBUTE, attempt)
        return view(request, *args, **kwargs)

    return wrapper


def throttled_page(request: HttpRequest, wait: int) -> HttpResponse:
    response = TemplateResponse(
        request,
        "registration/login_throttled.html",
        {"retry_after": wait, "retry_after_text": _in_words(wait), "back_to": request.get_full_path()},
        status=429,
    )
    response["Retry-After"] = str(wait)
    add_never_cache_headers(response)
    return response


def _in_words(seconds: int) -> str:
    if seconds <= 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minutes"


class SignOutView(LogoutView):
    """Sign out (POST only), then the sign-in page says so: on a shared computer, proof the session is over."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        was_signed_in = request.user.is_authenticated
        response = super().post(request, *args, **kwargs)
        if was_signed_in:
            messages.info(request, "You are signed out.")
        return response
