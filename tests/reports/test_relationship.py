"""Where the relationship stands: each criterion from live evidence, with its threshold (a setting), the level the
evidence reaches, and what to do about each criterion not met."""
from __future__ import annotations

from datetime import date

import pytest
from django.test import override_settings

from handoff.models import LeadDefinition, SlaPolicy
from handoff.selectors.reports import relationship, report_scope

pytestmark = pytest.mark.django_db
FRIDAY = date(2026, 3, 13)


def stands(user, team=None, team_name=""):
    return relationship(scope=report_scope(user), team=team, team_name=team_name, today=FRIDAY)


def test_each_criterion_of_the_week_with_its_value_and_threshold(cast, week):
    result = stands(cast.manager, cast.team.pk, "EMEA")
    found = {c.key: (c.value, c.threshold, c.met) for c in result.criteria}

    assert (result.start, result.end) == (date(2026, 2, 16), FRIDAY)  # the last 4 weeks
    assert found == {
        "definition": ("v1 Engaged and reachable in force (1 version)", "a definition in force", True),
        "reasons": ("100.0 % of 1 rejection", "100 %", True),
        "disputes": ("median 5.0 business hours over 2 decided", "≤ 16 business hours", True),
        "sales_sla": ("accept 88.9 %, first touch 14.3 %", "≥ 90 % each", False),
        "acceptance": ("87.5 % of 8 decided", "≥ 80.0 % (SLA policy v1)", True),
        "feedback": ("75.0 % of 4 asked", "≥ 50 % answered", True),
        # EMEA's 8 a week were met in the week of 9 March, not in the three weeks before (no lead at all).
        "volume": ("1 of 4 weeks (25.0 %)", "≥ 75 % of the weeks", False),
        # H6 was never qualified again; H7a's lead came back as H7b.
        "recycled_back": ("1 of 2 (50.0 %)", "≥ 10 % within 26 weeks", True),
    }


def test_the_level_is_the_highest_whose_criteria_and_all_below_are_met(cast, week):
    result = stands(cast.manager, cast.team.pk, "EMEA")

    assert result.level == "defined"  # sales' SLA (an aligned criterion) is not kept
    assert result.next_level == "aligned"
    assert [c.key for c in result.to_do] == ["sales_sla", "volume"]
    assert result.to_do[0].next_step.startswith("Review every breach with its rep")


@override_settings(REPORT_SLA_ATTAINMENT_MIN=10, REPORT_TARGET_WEEKS_MIN=25)
def test_the_thresholds_are_settings(cast, week):
    result = stands(cast.manager, cast.team.pk, "EMEA")

    assert {c.key: c.threshold for c in result.criteria}["sales_sla"] == "≥ 10 % each"
    assert result.level == "integrated" and result.to_do == []


def test_without_a_lead_definition_in_force_the_relationship_is_undefined(cast, week):
    LeadDefinition.objects.update(is_active=False)
    result = stands(cast.manager, cast.team.pk, "EMEA")

    assert result.level == "undefined"
    assert result.to_do[0].key == "definition"


def test_without_an_agreed_minimum_marketings_side_is_not_met_and_says_to_agree_one(cast, week):
    SlaPolicy.objects.update(min_acceptance_rate=None)
    acceptance = next(c for c in stands(cast.manager, cast.team.pk, "EMEA").criteria if c.key == "acceptance")

    assert (acceptance.threshold, acceptance.met) == ("no minimum agreed", False)
    assert acceptance.next_step.startswith("Agree a minimum acceptance rate")


def test_the_organisation_counts_every_team(cast, admin_user, week):
    found = {c.key: c.value for c in stands(admin_user).criteria}

    assert found["acceptance"] == "88.9 % of 9 decided"  # Rob's accepted lead too
    assert found["volume"].startswith("0 of 4 weeks")  # the hot target (2 a week) was never met


def test_the_page_shows_the_level_the_criteria_their_links_and_the_default_thresholds(cast, week, browser):
    page = browser("manager").get("/reports/relationship/")
    html = page.content.decode()

    assert page.status_code == 200
    assert "<h2 id=\"level\">Defined</h2>" in html
    assert "Review every breach with its rep" in html
    assert "REPORT_SLA_ATTAINMENT_MIN" in html and "REPORT_DISPUTE_HOURS_MAX" in html
    assert "/reports/?period=custom&amp;start=2026-02-16&amp;end=2026-03-13&amp;group_by=week&amp;team=" in html
    csv = browser("manager").get("/reports/relationship/", {"format": "csv"})
    assert csv["Content-Type"] == "text/csv; charset=utf-8"
    assert csv.content.decode().splitlines()[0] == "key,label,level,value,threshold,met,next_step"
