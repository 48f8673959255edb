"""People and teams are created through services: roles, profiles, a shared initial password, validated input."""
from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User

from handoff.crm.base import make_id
from handoff.exceptions import InvalidInput
from handoff.models import BusinessCalendar, RepProfile, Role, Team
from handoff.selectors.calendars import people_time_zones
from handoff.services.people import NewPerson, calendar_create, people_create, team_create

from ..factories import make_user

pytestmark = pytest.mark.django_db


def test_people_get_their_role_profile_and_the_shared_password():
    berlin = calendar_create(name="Berlin", time_zone="Europe/Berlin", holiday_country="DE")
    users = people_create(
        people=[
            NewPerson("root", is_admin=True),
            NewPerson("nina", "Nina", "Rep", "nina@example.com", Role.SALES_REP, calendar=berlin,
                      crm_user_id=make_id("005", 41)),
        ],
        password="a shared secret",
    )

    root, nina = users["root"], users["nina"]
    assert root.is_superuser and root.is_staff and not root.groups.exists()
    assert not nina.is_staff and list(nina.groups.values_list("name", flat=True)) == [Role.SALES_REP]
    assert (nina.first_name, nina.last_name, nina.email) == ("Nina", "Rep", "nina@example.com")
    assert (nina.profile.calendar, nina.profile.crm_user_id, nina.profile.team) == (berlin, make_id("005", 41), None)
    assert people_time_zones([nina.pk]) == {nina.pk: ZoneInfo("Europe/Berlin")}
    assert authenticate(username="root", password="a shared secret") == root
    assert authenticate(username="nina", password="a shared secret") == nina


@pytest.mark.parametrize(
    ("person", "field"),
    [
        (NewPerson("taken"), "username"),
        (NewPerson("two words"), "username"),
        (NewPerson("nina", role="boss"), "role"),
        (NewPerson("nina", crm_user_id="00Q000000000001AAA"), "crm_user_id"),
        (NewPerson("nina", crm_user_id="linked"), "crm_user_id"),
    ],
)
def test_people_are_refused_whole_when_one_is_wrong(person, field):
    existing = make_user("taken")
    if person.crm_user_id == "linked":
        person = NewPerson("nina", crm_user_id=existing.profile.crm_user_id)

    with pytest.raises(InvalidInput) as refused:
        people_create(people=[NewPerson("fine"), person], password="pw")

    assert refused.value.field == field
    assert list(User.objects.values_list("username", flat=True)) == ["taken"]


def test_a_user_name_given_twice_is_refused():
    with pytest.raises(InvalidInput, match="twin"):
        people_create(people=[NewPerson("twin"), NewPerson("twin")], password="pw")
    assert not User.objects.exists()


def test_a_team_is_created_with_its_manager_and_members():
    users = people_create(
        people=[NewPerson("boss", role=Role.MANAGER), NewPerson("rep", role=Role.SALES_REP)], password="pw"
    )

    team = team_create(name=" Nordics ", manager=users["boss"], members=[users["boss"], users["rep"]])

    assert (team.name, team.manager) == ("Nordics", users["boss"])
    assert set(RepProfile.objects.filter(team=team).values_list("user__username", flat=True)) == {"boss", "rep"}


def test_a_team_refuses_a_taken_name_a_manager_without_the_role_and_a_member_without_a_profile():
    Team.objects.create(name="EMEA")
    rep = make_user("rep", Role.SALES_REP)
    stranger = User.objects.create_user("stranger")

    with pytest.raises(InvalidInput) as taken:
        team_create(name="emea")
    with pytest.raises(InvalidInput) as not_a_manager:
        team_create(name="Nordics", manager=rep)
    with pytest.raises(InvalidInput) as no_profile:
        team_create(name="Nordics", members=[rep, stranger])
    with pytest.raises(InvalidInput) as nameless:
        team_create(name="  ")

    fields = [refused.value.field for refused in (taken, not_a_manager, no_profile, nameless)]
    assert fields == ["name", "manager", "members", "name"]
    assert list(Team.objects.values_list("name", flat=True)) == ["EMEA"]
    assert RepProfile.objects.get(user=rep).team is None


def test_a_teams_calendar_is_where_its_members_work_unless_they_have_their_own():
    new_york = calendar_create(name="New York", time_zone="America/New_York", holiday_country="US")
    tokyo = calendar_create(name="Tokyo", time_zone="Asia/Tokyo")
    users = people_create(
        people=[NewPerson("raj", role=Role.SALES_REP), NewPerson("kai", role=Role.SALES_REP, calendar=tokyo),
                NewPerson("ada")],
        password="pw",
    )

    team = team_create(name="Americas", members=[users["raj"], users["kai"]], calendar=new_york)

    assert team.calendar == new_york
    assert people_time_zones([u.pk for u in users.values()]) == {
        users["raj"].pk: ZoneInfo("America/New_York"),
        users["kai"].pk: ZoneInfo("Asia/Tokyo"),
        users["ada"].pk: ZoneInfo("UTC"),  # no team, no calendar: the default calendar's zone
    }


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"holiday_country": "XX"}, "holiday_country"),
        ({"weekly_hours": [[["17:00", "09:00"]]] * 7}, "weekly_hours"),
        ({"name": "Default (Mon–Fri 9–17)"}, "name"),
    ],
)
def test_a_calendar_is_refused_naming_the_field(fields, field):
    with pytest.raises(InvalidInput) as refused:
        calendar_create(**{"name": "Berlin", "time_zone": "Europe/Berlin", **fields})
    assert refused.value.field == field
    assert not BusinessCalendar.objects.filter(is_default=False).exists()
