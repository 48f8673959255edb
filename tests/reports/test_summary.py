"""The report summary the job keeps: what a refresh reads again, what it leaves to the nightly rebuild, and the
instant its figures stand at."""
from __future__ import annotations

from datetime import timedelta

import pytest

from handoff.models import ClockStatus, Handoff, Lead, ReportFact, ReportRefresh, SlaPolicy
from handoff.selectors.reports import summary_as_of
from handoff.services import handoffs as machine
from handoff.services.reports import OVERLAP, report_facts_refresh
from handoff.services.sla import milestones_first_touch_by_crm_status, milestones_follow_crm_status
from tests.factories import make_lead

from .conftest import report_for, when

pytestmark = pytest.mark.django_db


def handed(cast, **fields):
    return machine.handoff_qualify(lead=make_lead(owner=cast.rep, **fields), actor=cast.actor("marketer"))


def fact(handoff, round=1) -> ReportFact:
    return ReportFact.objects.get(handoff=handoff, round=round)


def test_a_refresh_reads_the_handoffs_changed_since_the_last_and_leaves_the_rest(cast, clock):
    clock("Mon 08:00")
    first, second = handed(cast), handed(cast)
    clock("Mon 09:00")
    assert report_facts_refresh().rounds == 2
    clock("Mon 09:30")
    machine.handoff_accept(handoff=first, actor=cast.actor("rep"))
    clock("Mon 10:00")
    result = report_facts_refresh()

    # Changed since the last refresh, or in the OVERLAP before it (a transaction that committed late): the accepted
    # one; the other was last changed at 08:00.
    assert (result.full, result.rounds) == (False, 1)
    assert fact(first).accepted and fact(first).accept_status == ClockStatus.MET
    assert not fact(second).accepted
    assert fact(first).refreshed_at == when("Mon 10:00") and fact(second).refreshed_at == when("Mon 09:00")
    assert summary_as_of() == when("Mon 10:00")


def test_a_refresh_twice_writes_the_same_rows(cast, clock):
    clock("Mon 09:00")
    handoff = handed(cast)
    machine.handoff_reject(handoff=handoff, actor=cast.actor("rep"), reason="student")
    report_facts_refresh()
    before = list(ReportFact.objects.values().order_by("pk"))
    report_facts_refresh(full=True)
    after = list(ReportFact.objects.values().order_by("pk"))

    assert [{k: v for k, v in row.items() if k != "refreshed_at"} for row in before] == [
        {k: v for k, v in row.items() if k != "refreshed_at"} for row in after
    ]


def test_a_change_committed_late_within_the_overlap_is_not_missed_one_older_waits_for_the_rebuild(cast, clock):
    clock("Mon 09:00")
    late, too_late = handed(cast), handed(cast)
    report_facts_refresh()
    clock("Mon 09:20")
    machine.handoff_accept(handoff=late, actor=cast.actor("rep"))
    machine.handoff_accept(handoff=too_late, actor=cast.actor("rep"))
    # Written by transactions that began before the refresh of 09:00 and committed after it.
    Handoff.objects.filter(pk=late.pk).update(updated_at=when("Mon 09:00") - OVERLAP + timedelta(minutes=1))
    Handoff.objects.filter(pk=too_late.pk).update(updated_at=when("Mon 09:00") - OVERLAP - timedelta(minutes=1))
    report_facts_refresh()

    assert fact(late).accepted and not fact(too_late).accepted
    report_facts_refresh(full=True)
    assert fact(too_late).accepted
    assert ReportRefresh.objects.get().rebuilt_at == when("Mon 09:20")


def test_clocks_the_crm_pauses_or_meets_mark_their_handoff_changed(cast, clock):
    SlaPolicy.objects.filter(is_active=True).update(pause_statuses=["Waiting on customer"])
    clock("Mon 09:00")
    paused, touched = handed(cast), handed(cast)
    report_facts_refresh()
    clock("Mon 10:00")
    Lead.objects.filter(pk=paused.lead_id).update(status="Waiting on customer")
    Lead.objects.filter(pk=touched.lead_id).update(status="Working - Contacted", crm_modified_at=when("Mon 09:45"))
    milestones_follow_crm_status(lead_ids=[paused.lead_id, touched.lead_id])
    milestones_first_touch_by_crm_status(lead_ids=[paused.lead_id, touched.lead_id])
    report_facts_refresh()

    assert fact(paused).accept_status == ClockStatus.PAUSED and fact(paused).accept_due_at is None
    assert (fact(touched).first_touch_status, fact(touched).first_touch_seconds) == (ClockStatus.MET, 45 * 60)


def test_a_running_clock_counts_as_missed_once_its_due_time_is_before_the_summarys_time(cast, clock):
    clock("Mon 09:00")
    handoff = handed(cast)
    machine.handoff_accept(handoff=handoff, actor=cast.actor("rep"))
    clock("Mon 10:59")
    report_facts_refresh()
    assert fact(handoff).first_touch_status == ClockStatus.RUNNING
    assert fact(handoff).first_touch_due_at == when("Mon 11:00")
    assert report_for(cast.manager).total.row()["first_touch_due"] == 0  # running, not yet due
    clock("Mon 11:30")
    assert report_for(cast.manager).total.row()["first_touch_due"] == 0  # the figures stand at the summary's time

    report_facts_refresh()  # nothing changed but the time
    total = report_for(cast.manager).total.row()
    assert (total["first_touch_due"], total["first_touch_missed"], total["first_touch_attainment_pct"]) == (1, 1, 0.0)


def test_a_lead_source_changed_in_the_crm_moves_its_handoffs_at_the_nightly_rebuild(cast, clock):
    clock("Mon 08:00")
    handoff = handed(cast, lead_source="Web")
    clock("Mon 09:00")
    report_facts_refresh()
    Lead.objects.filter(pk=handoff.lead_id).update(lead_source="Webinar")
    clock("Mon 09:30")
    report_facts_refresh()
    assert fact(handoff).lead_source == "Web"

    report_facts_refresh(full=True)
    assert fact(handoff).lead_source == "Webinar"


def test_a_handoff_without_clocks_is_counted_with_no_clock_due(cast, clock):
    SlaPolicy.objects.update(is_active=False)
    clock("Mon 09:00")
    handoff = handed(cast)
    report_facts_refresh()

    row = fact(handoff)
    assert (row.accept_status, row.policy_id, row.segment) == (ClockStatus.NONE, None, "")
    total = report_for(cast.manager).total.row()
    assert (total["handoffs"], total["accept_due"], total["accept_attainment_pct"]) == (1, 0, None)


def test_before_the_first_refresh_there_is_no_summary_time(cast, clock):
    clock("Mon 09:00")
    handed(cast)

    assert summary_as_of() is None
    assert report_for(cast.manager).total.handoffs == 0
