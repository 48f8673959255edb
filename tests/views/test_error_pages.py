"""Dead ends are pages of the app: a page for another role, an address with nothing behind it and a server error each
say what happened and where to go, in the app's layout with its menu; under /api/ they stay the API's JSON."""
from __future__ import annotations

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from handoff.views.errors import server_error

pytestmark = pytest.mark.django_db


def test_a_rep_opening_a_managers_page_gets_a_403_page_with_the_menu_and_a_way_back(browser):
    response = browser("rep").get(reverse("team_handoffs"))

    assert response.status_code == 403
    text = response.text
    assert "This page is not open to you" in text and "This page is for another role." in text
    assert 'aria-label="Main"' in text and f'href="{reverse("my_handoffs")}"' in text  # the rep's own menu
    assert f'href="{reverse("home")}"' in text and "Go to your start page" in text
    assert "Forbidden</h1>" not in text


def test_a_missing_page_is_a_404_page_in_the_layout_never_a_list_of_the_sites_urls(browser):
    response = browser("manager").get("/no/such/page/")

    assert response.status_code == 404
    text = response.text
    assert "There is nothing here" in text and "/no/such/page/" in text
    assert 'aria-label="Main"' in text and "Go to your start page" in text
    assert "URLconf" not in text and "admin/" not in text


def test_a_lead_the_reader_may_not_see_is_the_same_404_page(cast, browser, qualified):
    response = browser("other_rep").get(reverse("lead_detail", args=[qualified.lead_id]))

    assert response.status_code == 404 and "There is nothing here" in response.text


def test_a_missing_page_offers_sign_in_to_someone_signed_out():
    response = Client().get("/no/such/page/")

    assert response.status_code == 404
    assert "There is nothing here" in response.text and f'href="{reverse("login")}"' in response.text


def test_a_server_error_is_a_500_page_that_needs_no_database_nor_a_signed_in_user():
    response = server_error(RequestFactory().get("/team/"))

    assert response.status_code == 500
    text = response.content.decode()
    assert "Something went wrong on our side" in text and "has been logged" in text
    assert 'class="topbar"' in text and 'href="/"' in text


def test_under_the_api_the_errors_stay_json(browser):
    response = browser("rep").get("/api/no-such-endpoint/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    request = RequestFactory().get("/api/handoffs/")
    assert server_error(request)["Content-Type"] == "application/json"


def test_signing_out_says_so_on_the_sign_in_page(browser):
    client = browser("rep")

    response = client.post(reverse("logout"), follow=True)

    assert response.redirect_chain[-1][0] == reverse("login")
    assert "You are signed out." in response.text


def test_every_page_has_the_favicon(browser):
    assert 'rel="icon"' in browser("rep").get(reverse("my_handoffs")).text
    assert 'rel="icon"' in Client().get(reverse("login")).text
