"""Signing in and landing: each role starts on the list it works from; pages need a login and the right role."""
from __future__ import annotations

import zoneinfo

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from handoff.models import RepProfile
from tests.factories import zone_calendar

pytestmark = pytest.mark.django_db


def test_login_page_signs_a_rep_in_and_lands_on_my_handoffs(cast):
    client = Client()
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert b'name="username"' in page.content

    response = client.post(reverse("login"), {"username": "rita.rep", "password": "pw"}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("my_handoffs")
    assert "My handoffs" in response.text
    assert "rita.rep" in response.text


def test_wrong_password_is_refused_with_a_message(cast):
    response = Client().post(reverse("login"), {"username": "rita.rep", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.text


@pytest.mark.parametrize(
    ("person", "landing", "heading"),
    [
        ("marketer", "leads_to_qualify", "Leads to qualify"),
        ("rep", "my_handoffs", "My handoffs"),
        ("manager", "team_handoffs", "Team handoffs"),
    ],
)
def test_each_role_lands_on_its_home(browser, person, landing, heading):
    client = browser(person)
    response = client.get(reverse("home"), follow=True)
    assert response.redirect_chain[-1][0] == reverse(landing)
    assert heading in response.text


def test_staff_without_a_role_lands_in_the_admin(db):
    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(admin)
    response = client.get(reverse("home"))
    assert response.url == reverse("admin:index")


def test_a_person_without_a_role_is_told_to_ask_for_one(browser):
    response = browser("outsider").get(reverse("home"))
    assert response.status_code == 403
    assert "No role yet" in response.text


def test_the_menu_shows_only_the_roles_pages(browser):
    text = browser("rep").get(reverse("my_handoffs")).text
    assert reverse("my_handoffs") in text
    assert reverse("leads_to_qualify") not in text
    assert reverse("disputes") not in text


def test_pages_need_a_login(db):
    response = Client().get(reverse("my_handoffs"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize(
    ("person", "url_name"),
    [
        ("rep", "leads_to_qualify"),
        ("rep", "rejected_handoffs"),
        ("marketer", "my_handoffs"),
        ("rep", "team_handoffs"),
        ("marketer", "disputes"),
        ("outsider", "my_handoffs"),
    ],
)
def test_a_page_of_another_role_is_forbidden(browser, person, url_name):
    assert browser(person).get(reverse(url_name)).status_code == 403


def test_sign_out_ends_the_session(browser):
    client = browser("rep")
    response = client.post(reverse("logout"))
    assert response.url == reverse("login")
    assert client.get(reverse("my_handoffs")).status_code == 302


def test_times_are_shown_in_the_readers_time_zone(cast, qualified, browser):
    RepProfile.objects.filter(user=cast.rep).update(calendar=zone_calendar("Asia/Tokyo"))
    tokyo = qualified.handed_at.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo"))

    text = browser("rep").get(reverse("lead_detail", args=[qualified.lead_id])).text

    assert f"{tokyo:%b} {tokyo.day}, {tokyo:%H:%M}" in text
