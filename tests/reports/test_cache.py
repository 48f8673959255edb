"""A computed report is cached until the report job refreshes the summary: a refresh retires it (the cache key
carries the summary's generation), so a cached report is never staler than the summary itself; teams are read
live; the job computes again the reports read lately, so their readers find them cached."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from handoff.models import ReportFact, ReportRefresh, RepProfile
from handoff.selectors.reports import reports_warm
from handoff.selectors.reports.summary import RECENT_KEY
from handoff.services import handoffs as machine
from handoff.services.reports import report_facts_refresh
from tests.factories import make_lead

from .conftest import report_for

pytestmark = pytest.mark.django_db


def facts_read(queries: CaptureQueriesContext) -> int:
    table = ReportFact._meta.db_table
    return sum(1 for q in queries.captured_queries if table in q["sql"])


def test_a_cached_report_stands_until_a_refresh_retires_it(cast, week, clock):
    first = report_for(cast.manager).total.row()
    clock("Fri 17:10")
    machine.handoff_qualify(lead=make_lead(owner=cast.rep), actor=cast.actor("marketer"))

    with CaptureQueriesContext(connection) as queries:
        again = report_for(cast.manager).total.row()
    assert again == first and facts_read(queries) == 0  # served from the cache: the summary has not changed

    generation = ReportRefresh.objects.get().generation
    report_facts_refresh()
    assert ReportRefresh.objects.get().generation != generation
    with CaptureQueriesContext(connection) as queries:
        after = report_for(cast.manager).total.row()
    assert facts_read(queries) > 0
    assert after["handoffs"] == first["handoffs"] + 1


def test_the_same_report_cached_or_computed_is_the_same(cast, admin_user, week):
    computed = report_for(admin_user, group_by="team")
    cached = report_for(admin_user, group_by="team")

    assert [f.row() for f in cached.groups] == [f.row() for f in computed.groups]
    assert [f.row() for f in cached.weeks] == [f.row() for f in computed.weeks]
    assert cached.total.row() == computed.total.row()
    assert [(r.code, r.count) for r in cached.reasons] == [(r.code, r.count) for r in computed.reasons]
    assert [(t.label, [w.mqls for w in t.weeks]) for t in cached.targets] == [
        (t.label, [w.mqls for w in t.weeks]) for t in computed.targets
    ]


def test_a_rep_moved_to_another_team_counts_for_it_at_once_cached_report_or_not(cast, admin_user, week):
    before = {f.label: f.handoffs for f in report_for(admin_user, group_by="team").groups}
    RepProfile.objects.filter(user=cast.other_rep).update(team=cast.team)

    after = {f.label: f.handoffs for f in report_for(admin_user, group_by="team").groups}
    assert before == {"Americas": 1, "EMEA": 9}
    assert after == {"EMEA": 10}


def test_the_job_computes_again_after_a_refresh_the_reports_read_lately(cast, week, clock):
    assert cache.get(RECENT_KEY) is None
    report_for(cast.manager)
    report_for(cast.manager, group_by="week")
    clock("Fri 17:10")
    report_facts_refresh()

    assert reports_warm() == 2
    with CaptureQueriesContext(connection) as queries:
        report_for(cast.manager)
        report_for(cast.manager, group_by="week")
    assert facts_read(queries) == 0


def test_a_refresh_that_wrote_nothing_keeps_the_cached_reports_until_a_running_clock_falls_due(
    cast, week, clock, time_machine
):
    first = report_for(cast.manager).total.row()
    generation = ReportRefresh.objects.get().generation
    clock("Fri 17:30")
    report_facts_refresh()  # nothing changed since 17:00, and no clock fell due

    assert ReportRefresh.objects.get().generation == generation
    with CaptureQueriesContext(connection) as queries:
        assert report_for(cast.manager).total.row() == first
    assert facts_read(queries) == 0

    # The first of Rita's follow-up clocks still running falls due: from the next refresh on it is missed.
    running = ReportFact.objects.filter(owner=cast.rep, follow_up_status=3)
    due = min(running.values_list("follow_up_due_at", flat=True))
    time_machine.move_to(due + timedelta(minutes=1), tick=False)
    report_facts_refresh()
    assert ReportRefresh.objects.get().generation != generation
    later = report_for(cast.manager).total.row()
    fell_due = running.filter(follow_up_due_at__lte=due).count()
    assert fell_due >= 1 and later["follow_up_missed"] == first["follow_up_missed"] + fell_due
