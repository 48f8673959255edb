"""What every page shares: login and role checks, the reader's time zone, paging and safe redirects back."""
from __future__ import annotations

import functools
import zoneinfo

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.http import HttpRequest
from django.shortcuts import resolve_url
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from handoff.models import Handoff, ReasonCode, Role
from handoff.selectors.people import user_roles
from handoff.services.actors import Actor
from handoff.services.handoffs import allowed_actions

PAGE_SIZE = 50


def user_time_zone(user) -> zoneinfo.ZoneInfo:
    profile = getattr(user, "profile", None)
    name = profile.time_zone if profile is not None else settings.TIME_ZONE
    return zoneinfo.ZoneInfo(name)


def page(*roles: Role):
    """A signed-in page, shown in the reader's time zone; with roles, only people holding one of them (else 403)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if roles and not user_roles(request.user) & set(roles):
                raise PermissionDenied("This page is for another role.")
            with timezone.override(user_time_zone(request.user)):
                return view(request, *args, **kwargs)

        return login_required(wrapper)

    return decorate


def paginate(request: HttpRequest, items) -> Page:
    return Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))


def back_url(request: HttpRequest, fallback: str, *args) -> str:
    """Where a form came from (its `next` field), if that is a page of this site; else the fallback."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return resolve_url(fallback, *args)


def reasons_by_kind() -> dict[str, list[ReasonCode]]:
    """The active reason codes for the dropdowns of a whole list page, in one query."""
    grouped: dict[str, list[ReasonCode]] = {kind: [] for kind in ReasonCode.Kind.values}
    for reason in ReasonCode.objects.filter(is_active=True).order_by("kind", "label"):
        grouped[reason.kind].append(reason)
    return grouped


def with_actions(actor: Actor, handoffs) -> list[Handoff]:
    """The handoffs, each with `.actions`: what the actor may do to it now, for its buttons."""
    rows = list(handoffs)
    for handoff in rows:
        handoff.actions = [str(action) for action in allowed_actions(actor, handoff)]
    return rows


def person_name(user) -> str:
    return user.get_full_name() or user.get_username()
