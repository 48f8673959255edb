"""The day counts the reports add up (`ReportDay`) give the same figures as the facts they are counted from, kept
right by every refresh (only the days it touched are counted again) as by the nightly rebuild."""
from __future__ import annotations

import pytest

from handoff.models import ClockStatus, Handoff, ReportDay, ReportFact
from handoff.selectors.reports import DAY_KEYS, day_counts, day_rows, report_scope
from handoff.selectors.reports.scope import fact_filter, group_expression, group_key
from handoff.services import handoffs as machine
from handoff.services.reports import report_facts_refresh
from tests.factories import make_lead

from .conftest import AS_OF, query, report_for

pytestmark = pytest.mark.django_db


def stored_days() -> list[tuple]:
    names = ["day", *DAY_KEYS, *day_counts()]
    return sorted(tuple(str(v) for v in row) for row in ReportDay.objects.values_list(*names))


def counted_from_the_facts() -> list[tuple]:
    names = ["qualified_on", *DAY_KEYS, *day_counts()]
    return sorted(tuple(str(v) for v in (row[name] for name in names)) for row in day_rows(ReportFact.objects.all()))


def test_the_days_kept_by_refreshes_are_the_days_counted_from_the_facts_again(cast, week, clock):
    assert stored_days() == counted_from_the_facts() and ReportDay.objects.exists()
    # Later changes, each followed by a refresh that counts again only the days it touched: an old handoff of
    # Monday accepted, a new one handed over on Friday and rejected, another handed over and left running.
    clock("Fri 17:10")
    machine.handoff_accept(handoff=Handoff.objects.get(pk=week.handoffs["H4"]), actor=cast.actor("rep"))
    report_facts_refresh()
    clock("Fri 17:20")
    fresh = machine.handoff_qualify(lead=make_lead(owner=cast.rep, lead_source="Webinar"),
                                    actor=cast.actor("marketer"))
    machine.handoff_reject(handoff=fresh, actor=cast.actor("rep"), reason="student")
    machine.handoff_qualify(lead=make_lead(owner=cast.other_rep), actor=cast.actor("marketer"))
    report_facts_refresh()

    kept = stored_days()
    assert kept == counted_from_the_facts()
    report_facts_refresh(full=True)
    assert stored_days() == kept


@pytest.mark.parametrize("group_by", ["rep", "team", "source", "segment", "week"])
def test_a_reports_counts_from_the_days_equal_the_same_counts_over_the_facts(cast, admin_user, week, group_by):
    scope = report_scope(admin_user)
    result = report_for(admin_user, group_by=group_by)
    facts = ReportFact.objects.filter(fact_filter(scope, query(group_by=group_by)))
    expected = {}
    for row in facts.annotate(g=group_expression(group_by)).values("g").annotate(**day_counts()).order_by():
        missed = {}
        for clock in ("accept", "first_touch", "follow_up"):
            # A running clock counts as missed once due by the summary's time.
            late = facts.filter(**{f"{clock}_status": ClockStatus.RUNNING, f"{clock}_due_at__lte": AS_OF})
            late = late.annotate(g=group_expression(group_by)).filter(g=row["g"]).count()
            missed[f"{clock}_missed"] = row[f"{clock}_missed"] + late
        expected[group_key(group_by, row["g"])] = {
            "handoffs": row["handoffs"], "accepted": row["accepted"], "rejected": row["rejected"],
            "recycled": row["recycled"], "feedback_asked": row["feedback_asked"], "accept_met": row["accept_met"],
            "first_touch_met": row["first_touch_met"], **missed,
        }

    found = {f.key: {key: f.row()[key] for key in expected[f.key]} for f in result.groups}
    assert found == expected
    assert sum(row["handoffs"] for row in expected.values()) == result.total.handoffs == 10
