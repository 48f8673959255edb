"""Who a user is to the app: the one place that answers "what roles does this user have"."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from handoff.models import RepProfile, Role

_CACHE = "_handoff_roles"
_TEAM_CACHE = "_handoff_team_member_ids"


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


def team_member_ids(user: AbstractBaseUser | None) -> tuple[int, ...]:
    """The user ids of the members of every team the user manages (none unless a manager), ascending.

    Read once per user object, like the roles: a manager's lists filter `owner IN (these) OR no owner`, which an
    index on the owner serves, where a join through owner → profile → team → manager made PostgreSQL read every row.
    """
    if Role.MANAGER not in user_roles(user):
        return ()
    cached = getattr(user, _TEAM_CACHE, None)
    if cached is None:
        cached = tuple(
            RepProfile.objects.filter(team__manager=user).order_by("user_id").values_list("user_id", flat=True)
        )
        setattr(user, _TEAM_CACHE, cached)
    return cached


def reps_managed_by(user: AbstractBaseUser):
    """The active sales reps of the teams the user manages, by name: whom a manager may hand a lead to."""
    return (
        get_user_model()
        .objects.filter(is_active=True, profile__team__manager=user, groups__name=Role.SALES_REP)
        .select_related("profile")
        .order_by("first_name", "last_name", "username")
        .distinct()
    )
