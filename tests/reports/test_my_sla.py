"""A rep's "My SLA" card: my attainment this month and my median time to accept or reject, beside my team's median;
the same numbers on the rep's page and from the API."""
from __future__ import annotations

import pytest

from handoff.models import Role
from handoff.services import handoffs as machine
from handoff.services.actors import Actor
from handoff.services.reports import report_facts_refresh
from tests.factories import make_lead, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def teammate(cast, week, clock):
    """A second rep of team EMEA: one lead, handed Friday 16:00 and accepted in 30 business minutes."""
    bea = make_user("bea.rep", Role.SALES_REP, team=cast.team)
    clock("Fri 16:00")
    handoff = machine.handoff_qualify(lead=make_lead(owner=bea), actor=cast.actor("marketer"))
    clock("Fri 16:30")
    machine.handoff_accept(handoff=handoff, actor=Actor.person(bea))
    report_facts_refresh(full=True)  # the week's summary was made at 17:00, after these
    return bea


def test_my_month_beside_my_teams_median(cast, teammate, api):
    mine = api("rep").get("/api/reports/my-sla/").json()

    assert (mine["start"], mine["end"], mine["time_zone"]) == ("2026-03-01", "2026-03-13", "UTC")
    assert (mine["handoffs"], mine["accept_met"], mine["accept_due"], mine["accept_attainment_pct"]) == (9, 8, 9, 88.9)
    assert (mine["first_touch_attainment_pct"], mine["breaches"]) == (14.3, 7)
    assert mine["accept_median_h"] == 1.0
    # The team: Rita's nine values and Bea's 1800 s: 600 900 1800 1800 1800 3600 3600 6300 7200 93600 → 2700 s.
    assert (mine["team"], mine["team_accept_median_h"]) == ("EMEA", 0.75)
    theirs = api(teammate).get("/api/reports/my-sla/").json()
    assert (theirs["handoffs"], theirs["accept_median_h"], theirs["team_accept_median_h"]) == (1, 0.5, 0.75)


def test_the_card_on_my_list_shows_the_apis_numbers(cast, teammate, api, browser):
    mine = api("rep").get("/api/reports/my-sla/").json()
    html = browser("rep").get("/my-handoffs/").content.decode()

    assert "My SLA this month" in html
    for text in (f"{mine['accept_attainment_pct']} %", f"({mine['accept_met']} of {mine['accept_due']} due)",
                 f"{mine['first_touch_attainment_pct']} %", f"{mine['accept_median_h']} h",
                 f"{mine['team_accept_median_h']} h", "team EMEA's median"):
        assert text in html, text


def test_a_rep_without_a_team_has_nothing_to_compare_with(cast, week, api):
    loner = make_user("lou.rep", Role.SALES_REP)
    card = api(loner).get("/api/reports/my-sla/").json()

    assert (card["handoffs"], card["team"], card["team_accept_median_h"], card["accept_attainment_pct"]) == (
        0, "", None, None
    )


def test_the_card_names_my_team_whole_when_its_name_holds_a_colon(cast, teammate, api, browser):
    cast.team.name = "EMEA: North"
    cast.team.save(update_fields=["name"])

    html = browser("rep").get("/my-handoffs/").content.decode()

    assert "team EMEA: North&#x27;s median" in html or "team EMEA: North's median" in html
    assert api("rep").get("/api/reports/my-sla/").json()["team"] == "EMEA: North"
