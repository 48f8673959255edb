"""Every figure of the report against the week worked out by hand in conftest.py (the same numbers on SQLite and on
PostgreSQL: the suite runs on both)."""
from __future__ import annotations

import pytest

from handoff.models import ClockStatus, ReportDispute, ReportFact

from .conftest import report_for

pytestmark = pytest.mark.django_db


def test_the_managers_total_counts_each_handoff_once_and_every_outcome_of_both_sides(cast, week):
    total = report_for(cast.manager).total.row()

    # H1–H7b and H9 are Rita's (team EMEA); Rob's H8 is another team's.
    assert (total["handoffs"], total["accepted"], total["rejected"], total["undecided"]) == (9, 7, 1, 1)
    assert (total["accepted_pct"], total["rejected_pct"], total["converted_pct"]) == (77.8, 11.1, 11.1)
    # H6 (rejected, then recycled by marketing) and H7a: recycled once each; H7b is the lead's second MQL.
    assert (total["recycled"], total["recycled_pct"]) == (2, 22.2)
    assert (total["qualified_first"], total["qualified_second"], total["qualified_third"],
            total["qualified_fourth_plus"]) == (8, 1, 0, 0)
    # Marketing's side: 7 accepted of 8 decided, against the agreed 80 %.
    assert (total["decided"], total["acceptance_rate_pct"], total["acceptance_met"]) == (8, 87.5, True)


def test_attainment_counts_met_late_as_missed_and_paused_or_running_clocks_not_yet_due_as_neither(cast, week):
    total = report_for(cast.manager).total.row()

    # Accept: every round (H5's overturn started a second one); H2 met 2 business hours late; H4 paused.
    assert (total["accept_met"], total["accept_missed"], total["accept_due"]) == (8, 1, 9)
    assert total["accept_attainment_pct"] == 88.9
    # First touch: H1 met; H2 met late; H3 (moved by its pause), H5's second round, H7b and H9 still running past
    # their due times; H7a recycled after its due time; H4 paused; H5's first round and H6 ended before due.
    assert (total["first_touch_met"], total["first_touch_missed"], total["first_touch_due"]) == (1, 6, 7)
    assert total["first_touch_attainment_pct"] == 14.3
    # Follow-up: running and not yet due, paused, or ended before due: none is due, so no attainment.
    assert (total["follow_up_met"], total["follow_up_due"], total["follow_up_attainment_pct"]) == (0, 0, None)
    assert total["breaches"] == 7


def test_median_and_p90_business_time_from_the_stored_clocks_paused_time_excluded(cast, week):
    total = report_for(cast.manager).total.row()

    # To accept or reject: 600, 900, 1800, 1800, 3600, 3600, 7200 (H3: 1 h + 1 h, the 8 paused hours left out),
    # 6300, 93600 seconds. Median 3600; P90 at rank 7.2 of 0..8: 7200 + 0.2 × (93600 - 7200) = 24480.
    assert (total["accept_n"], total["accept_median_h"], total["accept_p90_h"]) == (9, 1.0, 6.8)
    # To first touch: the clocks met, in time or late: 5400 and 97200.
    assert (total["first_touch_n"], total["first_touch_median_h"], total["first_touch_p90_h"]) == (2, 14.25, 24.45)
    # To first connect: H1's call at 12:00, 3 business hours after the hand-over (an attempt came first).
    assert (total["first_connect_n"], total["first_connect_median_h"], total["first_connect_p90_h"]) == (1, 3.0, 3.0)


def test_disputes_raised_upheld_overturned_and_their_median_business_time_to_a_decision(cast, week):
    total = report_for(cast.manager).total.row()

    assert (total["disputes"], total["disputes_upheld"], total["disputes_overturned"],
            total["disputes_undecided"]) == (2, 1, 1, 0)
    # H5: Mon 10:00 → 14:00 (4 h); H6: Mon 12:00 → Tue 10:00 (5 h + 1 h of business time).
    assert total["dispute_decision_median_h"] == 5.0
    seconds = dict(ReportDispute.objects.values_list("handoff_id", "business_seconds"))
    assert seconds == {week.handoffs["H5"]: 4 * 3600, week.handoffs["H6"]: 6 * 3600}


def test_rejection_reasons_are_those_of_the_rejections_that_stand_read_from_the_reject_event(cast, week):
    result = report_for(cast.manager)

    # H5's rejection was overturned; H6's stands, though recycling it gave the handoff marketing's reason.
    assert [(r.code, r.count, r.share, r.cumulative) for r in result.reasons] == [("wrong_region", 1, 100.0, 100.0)]


def test_feedback_coverage_and_average_rating_from_the_requests_of_the_period(cast, week):
    total = report_for(cast.manager).total.row()

    assert (total["feedback_asked"], total["feedback_answered"], total["feedback_coverage_pct"]) == (4, 3, 75.0)
    assert total["average_rating"] == 3.67  # (5 + 2 + 4) / 3


def test_marketings_volume_target_per_week_beside_the_acceptance_rate(cast, admin_user, week):
    mine = report_for(cast.manager).targets
    everything = report_for(admin_user, group_by="team").targets

    # A manager sees the target of their team (9 MQLs against 8 a week); the organisation's hot-segment target is
    # for those who see every team: one "Demo Request" against 2.
    assert [(t.team, t.segment, t.per_week, [(w.week.isoformat(), w.mqls, w.met) for w in t.weeks]) for t in mine] == [
        ("EMEA", "", 8, [("2026-03-09", 9, True)])
    ]
    assert [(t.label, t.weeks[0].mqls, t.weeks_met) for t in everything] == [
        ("EMEA · every segment", 9, 1),
        ("All teams · hot", 1, 0),
    ]


def test_the_summary_keeps_one_row_per_round_with_the_clocks_where_they_stood(cast, week):
    h5 = {f.round: f for f in ReportFact.objects.filter(handoff_id=week.handoffs["H5"])}
    h4 = ReportFact.objects.get(handoff_id=week.handoffs["H4"])

    assert sorted(h5) == [1, 2]
    assert (h5[1].accepted, h5[2].accepted, h5[2].sequence) == (True, False, 1)  # outcomes on round 1 only
    assert (h5[1].accept_status, h5[1].first_touch_status) == (ClockStatus.MET, ClockStatus.STOPPED)
    assert (h5[2].accept_status, h5[2].first_touch_status) == (ClockStatus.MET, ClockStatus.RUNNING)
    assert (h4.accept_status, h4.first_touch_status, h4.follow_up_status) == (ClockStatus.PAUSED,) * 3
    assert h4.accept_due_at is None and h4.accept_seconds is None


def test_an_admin_sees_every_team_and_the_teams_add_up_to_the_total(cast, admin_user, week):
    result = report_for(admin_user, group_by="team")

    rows = {f.label: f.row() for f in result.groups}
    assert sorted(rows) == ["Americas", "EMEA"]
    assert rows["Americas"]["handoffs"] == 1 and rows["EMEA"]["handoffs"] == 9
    assert result.total.row()["handoffs"] == 10
    for key in ("accept_met", "accept_due", "first_touch_missed", "disputes", "feedback_asked", "breaches"):
        assert rows["Americas"][key] + rows["EMEA"][key] == result.total.row()[key], key


def test_a_week_of_the_period_without_handoffs_is_a_row_of_zeros_in_the_trend(cast, week):
    from datetime import date

    result = report_for(cast.manager, start=date(2026, 3, 2))

    assert [(f.key, f.handoffs) for f in result.weeks] == [("2026-03-02", 0), ("2026-03-09", 9)]
    assert result.weeks[0].row()["accept_attainment_pct"] is None


@pytest.mark.postgres
@pytest.mark.parametrize("group_by", ["rep", "team", "source", "segment", "week"])
def test_on_postgresql_one_statement_for_every_grouping_gives_the_figures_of_one_query_per_grouping(
    cast, admin_user, week, group_by
):
    from django.db import connection

    from handoff.selectors.reports import figures_by, report_scope

    from .conftest import query

    if connection.vendor != "postgresql":
        pytest.skip("GROUP BY GROUPING SETS: DATABASE_URL=postgres://…")
    groupings = [group_by, None] if group_by == "week" else [group_by, "week", None]
    args = (report_scope(admin_user), query(group_by=group_by), groupings, week.as_of)
    sets, separate = figures_by(*args, grouping_sets=True), figures_by(*args, grouping_sets=False)

    assert {g: {k: f.row() for k, f in rows.items()} for g, rows in sets.items()} == {
        g: {k: f.row() for k, f in rows.items()} for g, rows in separate.items()
    }
    assert sets[None][None].handoffs == 10
