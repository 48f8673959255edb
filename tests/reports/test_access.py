"""Who sees what, on the page, the API and the CSV alike: a manager their teams, marketing every team but no rep's own
figures, an admin everything, a rep only their own figures. (Which statuses each gets: the access matrices.)"""
from __future__ import annotations

import csv
import io

import pytest

pytestmark = pytest.mark.django_db

PERIOD = {"period": "custom", "start": "2026-03-09", "end": "2026-03-13"}


def labels(api, who, **params) -> dict[str, int]:
    body = api(who).get("/api/reports/", {**PERIOD, **params}).json()
    return {row["label"]: row["handoffs"] for row in body["groups"]}


def csv_labels(browser, who, **params) -> dict[str, str]:
    text = browser(who).get("/reports/", {**PERIOD, "format": "csv", "table": "sales", **params}).content.decode()
    return {row["label"]: row["handoffs"] for row in csv.DictReader(io.StringIO(text))}


def test_each_manager_sees_the_reps_of_their_own_teams_only(cast, week, api, browser):
    assert labels(api, "manager") == {"rita.rep": 9}
    assert labels(api, "other_manager") == {"rob.rep": 1}
    assert csv_labels(browser, "manager") == {"rita.rep": "9", "All": "9"}
    assert csv_labels(browser, "other_manager") == {"rob.rep": "1", "All": "1"}
    page = browser("other_manager").get("/reports/", PERIOD).content.decode()
    assert "rob.rep" in page and "rita.rep" not in page


def test_marketing_sees_every_team_in_aggregate_and_no_reps_own_figures(cast, week, api, browser):
    assert labels(api, "marketer") == {"Americas": 1, "EMEA": 9}  # by team unless told otherwise
    assert labels(api, "marketer", group_by="source") == {"Web": 9, "Demo Request": 1}
    for params in ({"group_by": "rep"}, {"rep": cast.rep.pk}):
        refused = api("marketer").get("/api/reports/", {**PERIOD, **params})
        assert refused.status_code == 403 and "not by rep" in refused.json()["detail"]
        assert browser("marketer").get("/reports/", {**PERIOD, **params}).status_code == 403
        assert browser("marketer").get("/reports/", {**PERIOD, "format": "csv", **params}).status_code == 403
    page = browser("marketer").get("/reports/", PERIOD).content.decode()
    assert 'name="rep"' not in page and 'value="rep"' not in page  # no rep filter, no grouping by rep


def test_an_admin_sees_every_rep_and_team(cast, admin_user, week, api):
    assert labels(api, admin_user, group_by="rep") == {"rita.rep": 9, "rob.rep": 1}
    assert labels(api, admin_user) == {"Americas": 1, "EMEA": 9}  # by team unless told otherwise


def test_a_rep_reads_only_their_own_figures(cast, week, api, browser):
    assert api("rep").get("/api/reports/", PERIOD).status_code == 403
    assert browser("rep").get("/reports/", PERIOD).status_code == 403
    assert api("rep").get("/api/reports/relationship/").status_code == 403
    mine = api("rep").get("/api/reports/my-sla/").json()
    assert (mine["handoffs"], mine["team"]) == (9, "EMEA")
    assert api("other_rep").get("/api/reports/my-sla/").json()["handoffs"] == 1
    assert api("manager").get("/api/reports/my-sla/").status_code == 403


def test_the_menu_offers_the_reports_to_who_may_read_them(cast, week, browser):
    for who, offered in (("manager", True), ("marketer", True), ("rep", False), ("outsider", False)):
        page = browser(who).get("/my-handoffs/" if who == "rep" else "/disputes/" if who == "manager" else
                                "/qualify/" if who == "marketer" else "/login/", follow=True)
        assert ('href="/reports/"' in page.content.decode()) is offered, who


def test_the_relationship_of_another_team_is_not_a_managers(cast, week, api, browser):
    assert api("manager").get("/api/reports/relationship/").json()["team_name"] == "EMEA"
    assert api("manager").get("/api/reports/relationship/", {"team": cast.other_team.pk}).status_code == 403
    assert browser("manager").get("/reports/relationship/", {"team": cast.other_team.pk}).status_code == 403
    assert api("marketer").get("/api/reports/relationship/").json()["team"] is None  # the organisation
    assert api("marketer").get("/api/reports/relationship/", {"team": cast.other_team.pk}).status_code == 200
