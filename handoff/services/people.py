"""People: logins with a role and a profile (CRM user, calendar), and teams with their manager, calendar and members."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.db import transaction

from handoff.crm.base import to18
from handoff.exceptions import InvalidInput
from handoff.models import BusinessCalendar, RepProfile, Role, Team
from handoff.selectors.people import user_has_role


@dataclass(frozen=True)
class NewPerson:
    """Who to create: a login, its role (none for an administrator) and what the profile knows of them."""

    username: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    role: Role | str | None = None
    is_admin: bool = False
    crm_user_id: str | None = None
    calendar: BusinessCalendar | None = None  # their own hours and zone; None: their team's, else the default


def _check_people(people: Sequence[NewPerson]) -> None:
    names = [p.username for p in people]
    for person in people:
        try:
            User.username_validator(person.username)
        except ValidationError as exc:
            raise InvalidInput(f"{person.username!r}: {exc.messages[0]}", field="username") from exc
        if person.role is not None and person.role not in Role.values:
            raise InvalidInput(f"Unknown role {person.role!r}: use one of {', '.join(Role.values)}.", field="role")
        if person.crm_user_id is not None and not _is_crm_user_id(person.crm_user_id):
            raise InvalidInput(f"{person.crm_user_id!r} is not a CRM user id (005…).", field="crm_user_id")
    taken = _in_use(names, User.objects.filter(username__in=names).values_list("username", flat=True))
    if taken:
        raise InvalidInput(f"User name(s) {', '.join(taken)} already in use.", field="username")
    crm_ids = [p.crm_user_id for p in people if p.crm_user_id]
    linked = _in_use(crm_ids, RepProfile.objects.filter(crm_user_id__in=crm_ids).values_list("crm_user_id", flat=True))
    if linked:
        raise InvalidInput(f"CRM user id(s) {', '.join(linked)} already in use.", field="crm_user_id")


def _in_use(values: list[str], stored: Iterable[str]) -> list[str]:
    """The values given twice or already stored."""
    return sorted({value for value in values if values.count(value) > 1}.union(stored))


def _is_crm_user_id(value: str) -> bool:
    try:
        return to18(value) == value and value.startswith("005")
    except ValueError:
        return False


def people_create(*, people: Sequence[NewPerson], password: str) -> dict[str, User]:
    """Create logins with their role and profile in one transaction; returns them by user name.

    They share one initial password, hashed once (hashing costs a good part of a second each). Refuses, naming
    the field, a user name or CRM user id already in use, or an unknown role.
    """
    with transaction.atomic():
        _check_people(people)
        hashed = make_password(password)
        users = User.objects.bulk_create(
            User(
                username=p.username,
                first_name=p.first_name,
                last_name=p.last_name,
                email=p.email,
                password=hashed,
                is_staff=p.is_admin,
                is_superuser=p.is_admin,
            )
            for p in people
        )
        # bulk_create leaves the ids unset on some databases: read them back.
        by_name = User.objects.in_bulk([u.username for u in users], field_name="username")
        groups = Group.objects.in_bulk(Role.values, field_name="name")
        User.groups.through.objects.bulk_create(
            User.groups.through(user_id=by_name[p.username].pk, group_id=groups[p.role].pk) for p in people if p.role
        )
        RepProfile.objects.bulk_create(
            RepProfile(user=by_name[p.username], calendar=p.calendar, crm_user_id=p.crm_user_id) for p in people
        )
    return by_name


def team_create(
    *, name: str, manager: User | None = None, members: Sequence[User] = (), calendar: BusinessCalendar | None = None
) -> Team:
    """Create a team with its manager (who must have the manager role) and calendar; move its members' profiles to it.
    """
    name = (name or "").strip()
    if not name or len(name) > Team._meta.get_field("name").max_length:
        raise InvalidInput("A team needs a name of at most 100 characters.", field="name")
    with transaction.atomic():
        if Team.objects.filter(name__iexact=name).exists():
            raise InvalidInput(f"A team named {name!r} already exists.", field="name")
        if manager is not None and not user_has_role(manager, Role.MANAGER):
            raise InvalidInput(f"{manager.get_username()} is not a manager.", field="manager")
        team = Team.objects.create(name=name, manager=manager, calendar=calendar)
        member_ids = [user.pk for user in members]
        if RepProfile.objects.filter(user_id__in=member_ids).update(team=team) != len(set(member_ids)):
            raise InvalidInput("Every member of a team needs a profile.", field="members")
    return team


def calendar_create(
    *,
    name: str,
    time_zone: str,
    weekly_hours: list | None = None,
    holiday_country: str = "",
    holiday_subdivision: str = "",
) -> BusinessCalendar:
    """A business calendar: when and where a team or a person works (Mon–Fri 09:00–17:00 unless told otherwise).

    Refuses, naming the field, a name in use, an unknown zone, bad hours or an unknown holiday country.
    """
    calendar = BusinessCalendar(
        name=(name or "").strip(),
        time_zone=time_zone,
        holiday_country=holiday_country,
        holiday_subdivision=holiday_subdivision,
    )
    if weekly_hours is not None:
        calendar.weekly_hours = weekly_hours
    try:
        calendar.full_clean()
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise InvalidInput(messages[0], field=None if field == "__all__" else field) from exc
    calendar.save()
    return calendar
