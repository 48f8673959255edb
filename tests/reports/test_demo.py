"""The demo's history fills the reports: 8 weeks of handoffs, marketing's terms on the SLA policy, the summary made at
once, so a newcomer's `make run` shows every chart of the report with numbers in it."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import transaction

from handoff.demo.seed import demo_seed
from handoff.selectors.reports import ReportQuery, report, report_scope, report_tables, summary_as_of, week_of

NOW = datetime(2026, 3, 11, 15, 0, tzinfo=UTC)  # a Wednesday afternoon
WEEKLY = ["handoffs", "accepted_pct", "rejected_pct", "converted_pct", "accept_attainment_pct",
          "first_touch_attainment_pct", "follow_up_attainment_pct", "accept_median_h", "first_touch_median_h",
          "first_connect_median_h", "acceptance_rate_pct", "feedback_coverage_pct", "average_rating"]


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """The default demo, seeded once at NOW for the tests of this module, rolled back after."""
    with django_db_blocker.unblock(), time_machine.travel(NOW, tick=False), transaction.atomic():
        demo_seed()
        yield
        transaction.set_rollback(True)


@pytest.fixture
def at_now(seeded):
    with time_machine.travel(NOW, tick=False):
        yield


def run(user, **kwargs):
    today = NOW.date()
    query = {"start": week_of(today) - timedelta(weeks=3), "end": today, "group_by": "team", **kwargs}
    return report(scope=report_scope(user), query=ReportQuery(**query))


@pytest.mark.django_db
def test_the_history_covers_eight_weeks_and_is_summarised_at_once(at_now):
    admin = User.objects.get(username="admin")
    weeks = run(admin, start=week_of(NOW.date()) - timedelta(weeks=8)).weeks

    assert summary_as_of() == NOW
    assert len(weeks) == 9 and all(week.handoffs for week in weeks[1:])  # 8 whole weeks, then this one so far


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["admin", "henrik", "maya"])
def test_every_chart_of_the_default_report_has_numbers(at_now, who):
    result = run(User.objects.get(username=who), group_by="rep" if who == "henrik" else "team")
    tables = report_tables(result)

    for key in WEEKLY:  # a value in a week of the chart (0 % is a value: the demo's reps are slow to first touch)
        assert any(row[key] is not None for row in tables["weeks"].rows), (who, key)
    assert result.groups and any(row["accept_attainment_pct"] for row in tables["sales"].rows)
    assert result.reasons and result.targets
    assert result.policy.min_acceptance_rate is not None
    assert result.total.disputes and result.total.recycled and result.total.feedback_answered
