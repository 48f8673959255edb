"""Who a user is to the app: the one place that answers "what roles does this user have"."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from handoff.models import Role

_CACHE = "_handoff_roles"


def user_roles(user: AbstractBaseUser | None) -> frozenset[str]:
    """The user's roles (Role values: Django groups of those names); none for an inactive or anonymous user.

    Read once per user object: a request asks several times (visibility, actions, menus) and pays one query.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    cached = getattr(user, _CACHE, None)
    if cached is None:
        cached = frozenset(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
        setattr(user, _CACHE, cached)
    return cached


def user_has_role(user: AbstractBaseUser | None, role: Role) -> bool:
    return role in user_roles(user)
