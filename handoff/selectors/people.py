"""Who a user is to the app: the one place that answers "what roles does this user have"."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import connection
from django.db.models import IntegerField, TextField
from django.db.models.expressions import RawSQL

from handoff.db import compiled_once
from handoff.models import RepProfile, Role, Team

_CACHE = "_handoff_roles"
_TEAM_CACHE = "_handoff_managed_teams"
_ROLE_BITS = "handoff_role_bits"
_TEAM_TEXT = "handoff_managed_teams"


def user_roles(user: AbstractBaseUser | None) -> frozenset[str]:
    """The user's roles (Role values: Django groups of those names); none for an inactive or anonymous user.

    Read once per user object: a request asks several times (visibility, actions, menus) and pays one query, or
    none when the API's token check read them with the token (`remember_identity`).
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    cached = getattr(user, _CACHE, None)
    if cached is None:
        cached = frozenset(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
        setattr(user, _CACHE, cached)
    return cached


def identity_columns(user_id_column: str) -> dict[str, RawSQL]:
    """Annotations giving, for the user whose id is in `user_id_column` (a quoted "table"."column" of the query), their
    roles (one bit per role) and the teams they manage with their members ("team:member,…"): a read of a user who will
    ask for both (every API request: visibility, actions) reads them in the same query, then `remember_identity`.

    Subqueries written in SQL: PostgreSQL took 1 ms to plan an EXISTS per role, and building the same subqueries from
    ORM expressions cost as much Python time as the rest of a list request.
    """
    q = connection.ops.quote_name
    groups, members = q(Group._meta.db_table), q(Group.user_set.through._meta.db_table)
    bits = " ".join(f"WHEN %s THEN {1 << i}" for i, _ in enumerate(Role.values))
    roles = (
        f"(SELECT SUM(CASE g.name {bits} ELSE 0 END) FROM {groups} g JOIN {members} m ON m.group_id = g.id "
        f"WHERE m.user_id = {user_id_column})"
    )
    concat = "string_agg" if connection.vendor == "postgresql" else "group_concat"
    teams = (
        f"(SELECT {concat}(CAST(t.id AS TEXT) || ':' || COALESCE(CAST(p.user_id AS TEXT), ''), ',') "
        f"FROM {q(Team._meta.db_table)} t LEFT JOIN {q(RepProfile._meta.db_table)} p ON p.team_id = t.id "
        f"WHERE t.manager_id = {user_id_column})"
    )
    return {
        _ROLE_BITS: RawSQL(roles, tuple(Role.values), output_field=IntegerField()),
        _TEAM_TEXT: RawSQL(teams, (), output_field=TextField()),
    }


def remember_identity(user: AbstractBaseUser, row) -> None:
    """Keep on the user the roles and managed teams read with `identity_columns` on `row` (annotated with them)."""
    bits = getattr(row, _ROLE_BITS) or 0
    setattr(user, _CACHE, frozenset(role for i, role in enumerate(Role.values) if bits & (1 << i)))
    teams: dict[int, list[int]] = {}
    for pair in filter(None, (getattr(row, _TEAM_TEXT) or "").split(",")):
        team_id, _, member_id = pair.partition(":")
        found = teams.setdefault(int(team_id), [])
        if member_id:
            found.append(int(member_id))
    setattr(user, _TEAM_CACHE, {team_id: tuple(sorted(ids)) for team_id, ids in sorted(teams.items())})


_OWN_TEAM = "_handoff_own_team"
_OWN_TEAM_TEXT = "handoff_own_team"


def own_team_column(user_id_column: str) -> dict[str, RawSQL]:
    """An annotation giving the team the user whose id is in `user_id_column` belongs to, as "id:name" (none: no
    team), for `remember_own_team`: a rep's page reads it with the reader instead of in a query of its own."""
    q = connection.ops.quote_name
    text = (
        f"(SELECT CAST(t.id AS TEXT) || ':' || t.name FROM {q(RepProfile._meta.db_table)} p "
        f"JOIN {q(Team._meta.db_table)} t ON t.id = p.team_id WHERE p.user_id = {user_id_column})"
    )
    return {_OWN_TEAM_TEXT: RawSQL(text, (), output_field=TextField())}


def remember_own_team(user: AbstractBaseUser, row) -> None:
    """Keep on the user the team read with `own_team_column` on `row`."""
    team_id, _, name = (getattr(row, _OWN_TEAM_TEXT) or "").partition(":")
    setattr(user, _OWN_TEAM, (int(team_id), name) if team_id else (None, ""))


def own_team(user: AbstractBaseUser) -> tuple[int | None, str]:
    """(id, name) of the team the user belongs to as a rep ((None, "") without one); read once per user object."""
    cached = getattr(user, _OWN_TEAM, None)
    if cached is None:
        found = RepProfile.objects.filter(user=user, team__isnull=False).values_list("team_id", "team__name").first()
        cached = found or (None, "")
        setattr(user, _OWN_TEAM, cached)
    return cached


def user_has_role(user: AbstractBaseUser | None, role: Role) -> bool:
    return role in user_roles(user)


def managed_teams(user: AbstractBaseUser | None) -> dict[int, tuple[int, ...]]:
    """team id → its members' user ids (ascending), for every team the user manages (none unless a manager).

    Read once per user object, in one query, like the roles: a manager's lists filter `owner IN (members) OR no
    owner`, which an index on the owner serves (a join through owner → profile → team → manager made PostgreSQL
    read every row), and the actions on each row ask whether its owner's team is one of theirs.
    """
    if Role.MANAGER not in user_roles(user):
        return {}
    cached = getattr(user, _TEAM_CACHE, None)
    if cached is None:
        members: dict[int, list[int]] = {}
        for team_id, member_id in (
            Team.objects.filter(manager=user).order_by("pk", "members__user_id").values_list("pk", "members__user_id")
        ):
            found = members.setdefault(team_id, [])
            if member_id is not None:
                found.append(member_id)
        cached = {team_id: tuple(ids) for team_id, ids in members.items()}
        setattr(user, _TEAM_CACHE, cached)
    return cached


def team_member_ids(user: AbstractBaseUser | None) -> tuple[int, ...]:
    """The user ids of the members of every team the user manages (none unless a manager), ascending."""
    return tuple(sorted({pk for members in managed_teams(user).values() for pk in members}))


def reps_managed_by(user: AbstractBaseUser) -> list:
    """The active sales reps of the teams the user manages, by name: whom a manager may hand a lead to. Among the
    members read with the user's teams (`managed_teams`): a join through profile → team → manager and the rep group
    needed a DISTINCT, and cost the team page more than its 50 rows. The query is compiled once per process for each
    set of members (`compiled_once`)."""
    return compiled_once(_reps_among, shape=(tuple(sorted(team_member_ids(user))),))


def _reps_among(member_ids: tuple[int, ...]):
    return (
        get_user_model()
        .objects.filter(pk__in=member_ids, is_active=True, groups__name=Role.SALES_REP)
        .select_related("profile")
        .order_by("first_name", "last_name", "username")
    )
