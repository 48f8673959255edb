"""The report's filters and groupings, its periods, and the 400 naming the field for a filter it cannot read."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from handoff.models import SlaPolicy
from handoff.selectors.reports import preset_period
from handoff.services import handoffs as machine
from handoff.services.reports import report_facts_refresh
from tests.factories import make_lead

from .conftest import report_for

pytestmark = pytest.mark.django_db

PERIOD = {"period": "custom", "start": "2026-03-09", "end": "2026-03-13"}


def handoffs(user, **filters) -> int:
    return report_for(user, **filters).total.handoffs


def test_each_filter_narrows_the_figures(cast, admin_user, week):
    assert handoffs(admin_user, group_by="team") == 10
    assert handoffs(admin_user, source="Demo Request") == 1
    assert handoffs(admin_user, source="Web") == 9
    assert handoffs(admin_user, segment="hot") == 1
    assert handoffs(admin_user, segment="standard") == 9
    assert handoffs(admin_user, team=cast.other_team.pk) == 1
    assert handoffs(admin_user, rep=cast.rep.pk) == 9
    assert handoffs(admin_user, definition_version=1) == 10
    assert handoffs(admin_user, definition_version=2) == 0
    assert handoffs(admin_user, policy_version=1) == 10
    assert handoffs(admin_user, policy_version=2) == 0
    hot = report_for(admin_user, segment="hot").total.row()
    assert (hot["accept_met"], hot["accept_median_h"]) == (1, 0.17)  # H9 accepted in 10 minutes


def test_an_id_the_reader_cannot_see_and_one_that_does_not_exist_answer_alike_with_nothing(cast, week, api):
    caller = api("manager")
    other_team = caller.get("/api/reports/", {**PERIOD, "team": cast.other_team.pk})
    nobody = caller.get("/api/reports/", {**PERIOD, "team": 987654})
    other_rep = caller.get("/api/reports/", {**PERIOD, "rep": cast.other_rep.pk})

    assert other_team.status_code == nobody.status_code == other_rep.status_code == 200
    assert other_team.json()["total"] == nobody.json()["total"] == other_rep.json()["total"]
    assert nobody.json()["total"]["handoffs"] == 0


def test_groupings_by_source_segment_and_week_label_their_rows(cast, admin_user, week):
    by_source = report_for(admin_user, group_by="source").groups
    by_segment = report_for(admin_user, group_by="segment").groups
    by_week = report_for(admin_user, group_by="week").groups

    assert [(f.key, f.label, f.handoffs) for f in by_source] == [("Web", "Web", 9),
                                                                 ("Demo Request", "Demo Request", 1)]
    assert [(f.label, f.handoffs) for f in by_segment] == [("hot", 1), ("standard", 9)]
    assert [(f.key, f.label, f.handoffs) for f in by_week] == [("2026-03-09", "Week of Mar 9, 2026", 10)]


def test_grouped_by_rep_the_team_queue_is_a_row_of_its_own_for_who_sees_every_team(cast, admin_user, week, clock):
    clock("Fri 17:10")
    machine.handoff_qualify(lead=make_lead(owner=None), actor=cast.actor("marketer"))
    clock("Fri 17:20")
    report_facts_refresh()

    rows = {f.label: f.handoffs for f in report_for(admin_user).groups}
    assert rows == {"rita.rep": 9, "rob.rep": 1, "Team queue": 1}
    assert {f.label for f in report_for(cast.manager).groups} == {"rita.rep"}  # the queue belongs to no team


def test_the_presets_run_to_today_in_whole_weeks_or_the_quarter():
    friday = date(2026, 3, 13)

    assert preset_period("this_week", friday) == (date(2026, 3, 9), friday)
    assert preset_period("last_4_weeks", friday) == (date(2026, 2, 16), friday)
    assert preset_period("this_quarter", friday) == (date(2026, 1, 1), friday)
    assert preset_period("this_quarter", date(2026, 12, 31)) == (date(2026, 10, 1), date(2026, 12, 31))


def test_without_a_period_the_report_is_of_the_last_four_weeks_and_a_start_alone_runs_to_today(cast, week, api):
    caller = api("manager")

    assert caller.get("/api/reports/").json()["period"] == {
        "preset": "last_4_weeks", "start": "2026-02-16", "end": "2026-03-13", "time_zone": "UTC"
    }
    assert caller.get("/api/reports/", {"start": "2026-03-01"}).json()["period"]["end"] == "2026-03-13"
    # A preset ignores From and To (the page's date inputs keep the last period's).
    assert caller.get("/api/reports/", {"period": "this_week", "start": "2020-01-01"}).json()["period"]["start"] == (
        "2026-03-09"
    )


BAD = [
    ({"period": "yesterday"}, "period"),
    ({"period": "custom"}, "start"),
    ({"start": "2026-13-01"}, "start"),
    ({"start": "09/03/2026"}, "start"),
    ({"start": "2026-03-09", "end": "2026-03-01"}, "end"),
    ({"start": "2023-01-01", "end": "2026-03-13"}, "start"),
    ({"start": "9999-12-30", "end": "9999-12-31"}, "start"),
    ({"period": "this_week", "end": "0001-01-01"}, "end"),
    ({"source": "nul\x00byte"}, "source"),
    ({"group_by": "colour"}, "group_by"),
    ({"team": "abc"}, "team"),
    ({"team": "1.5"}, "team"),
    ({"team": "0"}, "team"),
    ({"rep": "-3"}, "rep"),
    ({"definition_version": "v2"}, "definition_version"),
    ({"policy_version": "99999999999"}, "policy_version"),
    ({"source": "x" * 256}, "source"),
    ({"segment": "y" * 41}, "segment"),
    ({"format": "xml"}, "format"),
    ({"format": "csv", "table": "everything"}, "table"),
]


@pytest.mark.parametrize(("params", "field"), BAD, ids=[f"{list(p)[0]}={list(p.values())[0][:12]}" for p, _ in BAD])
def test_a_filter_that_cannot_be_read_is_a_400_naming_it(cast, week, api, browser, params, field):
    response = api("manager").get("/api/reports/", params)

    assert response.status_code == 400
    assert response.json()["field"] == field and response.json()["code"] == "invalid"
    if field != "format":
        page = browser("manager").get("/reports/", params)
        assert page.status_code == 400
        assert f"{field}:" in page.content.decode()


def test_the_policy_filter_also_picks_whose_marketing_terms_apply(cast, admin_user, week):
    SlaPolicy.objects.create(version=2, name="v2", segments=[], min_acceptance_rate="0.95", is_active=False)

    assert report_for(admin_user).policy.version == 1
    assert report_for(admin_user, policy_version=2).policy.min_acceptance_rate == Decimal("0.95")
    assert report_for(admin_user, policy_version=2).total.handoffs == 0
