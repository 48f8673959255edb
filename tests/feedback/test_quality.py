"""Marketing's lead quality report on a data set small enough to compute by hand, and the feedback behind a figure.

Leads handed over (qualified) in two weeks of March 2026, under definition v1 and then v2:

| lead | week  | def | source  | segment  | what happened           | feedback                                  |
|------|-------|-----|---------|----------|-------------------------|-------------------------------------------|
| A    | Mar 2 | v1  | Web     | hot      | converted               | 3, changed the next day to 5, great fit   |
| B    | Mar 2 | v1  | Web     | standard | rejected: student       | 1, competitor mentioned                   |
| C    | Mar 2 | v1  | Webinar | standard | converted (on Mar 19)   | none yet (pending)                        |
| D    | Mar 9 | v2  | Web     | standard | converted               | 2, no budget + pricing objection          |
| E    | Mar 9 | v2  | Webinar | standard | rejected: duplicate     | 2                                         |
| F    | Mar 9 | v2  | Webinar | standard | converted               | expired after two digests (not given)     |
| G    | Mar 9 | v2  | Web     | standard | rejected, then deleted  | withdrawn: not counted at all             |
| H    | Feb 23| v1  | Web     | standard | converted               | 4: outside the period                     |
"""
from __future__ import annotations

from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from handoff.models import FeedbackOutcome, FeedbackReasonTally, FeedbackRequest, FeedbackTally, SlaPolicy
from handoff.selectors.quality import QualityFilter, lead_quality, quality_requests
from handoff.services import handoffs as machine
from handoff.services.actors import Actor
from handoff.services.definitions import definition_activate, definition_create
from handoff.services.feedback import (
    feedback_digests_create,
    feedback_requests_create,
    feedback_tallies_rebuild,
    lead_feedback_give,
)
from tests.factories import make_lead

from .conftest import local, person

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(cast, clock):
    rep = person(cast.rep)

    def lead(name, when, source, outcome, score=70):
        clock(local(when, "UTC"))
        handoff = machine.handoff_qualify(
            lead=make_lead(owner=cast.rep, first_name=name, lead_source=source, score=score),
            actor=cast.actor("marketer"),
        )
        if outcome in ("converted", "accepted"):
            handoff = machine.handoff_accept(handoff=handoff, actor=rep)
        if outcome == "converted":
            machine.handoff_convert(handoff=handoff, actor=rep)
        elif outcome != "accepted":
            machine.handoff_reject(handoff=handoff, actor=rep, reason=outcome)
        return handoff

    handoffs = {"H": lead("H", "2026-02-23 10:00", "Web", "converted")}
    handoffs |= {
        "A": lead("A", "2026-03-02 10:00", "Web", "converted", score=85),
        "B": lead("B", "2026-03-02 10:05", "Web", "student"),
        "C": lead("C", "2026-03-02 10:10", "Webinar", "accepted"),  # converts later, after F expired
    }
    definition_activate(definition=definition_create(name="Stricter", conditions=[{"field": "score", "op": ">=",
                                                                                  "value": 65}]))
    handoffs |= {
        "D": lead("D", "2026-03-09 10:00", "Web", "converted"),
        "E": lead("E", "2026-03-09 10:05", "Webinar", "duplicate"),
        "F": lead("F", "2026-03-09 10:10", "Webinar", "converted"),
        "G": lead("G", "2026-03-09 10:15", "Web", "duplicate"),
    }
    SlaPolicy.objects.update(feedback_after_accept_days=None)  # C is asked when it converts, not before
    clock(local("2026-03-16 12:00", "UTC"))
    assert feedback_requests_create().created == 7
    asked = {name: FeedbackRequest.objects.get(handoff=h) for name, h in handoffs.items() if name != "C"}
    for name, rating, reasons in [
        ("A", 3, []),
        ("B", 1, ["competitor_mentioned"]),
        ("D", 2, ["no_budget", "pricing_objection"]),
        ("E", 2, []),
        ("H", 4, []),
    ]:
        lead_feedback_give(request=asked[name], actor=rep, rating=rating, reasons=reasons)
    clock(local("2026-03-17 12:00", "UTC"))
    lead_feedback_give(request=asked["A"], actor=rep, rating=5, reasons=["great_fit"])  # changed her mind
    machine.handoffs_close(handoffs=[handoffs["G"]], actor=Actor.sync())  # G's lead deleted: withdrawn
    # F is in the digests of Tuesday and Wednesday, and expires on Thursday: not given.
    for day in ("2026-03-17", "2026-03-18", "2026-03-19"):
        clock(local(f"{day} 09:00", "UTC"))
        feedback_digests_create()
    clock(local("2026-03-19 10:00", "UTC"))
    machine.handoff_convert(handoff=handoffs["C"], actor=rep)
    assert feedback_requests_create().created == 1
    asked["C"] = FeedbackRequest.objects.get(handoff=handoffs["C"])
    assert FeedbackRequest.objects.get(pk=asked["F"].pk).outcome == FeedbackOutcome.EXPIRED
    return asked


def march():
    return lead_quality(start=date(2026, 3, 1), end=date(2026, 3, 31))


def by_key(rows):
    return {row.key: row for row in rows}


def test_totals_coverage_average_and_distribution(data):
    total = march().total
    assert (total.asked, total.answered, total.expired, total.pending) == (6, 4, 1, 1)
    assert total.coverage == pytest.approx(4 / 6)
    assert total.average == pytest.approx((5 + 1 + 2 + 2) / 4)
    assert total.ratings == [1, 2, 0, 0, 1]
    assert [(r.code, n) for r, n in total.top_reasons] == [("great_fit", 1), ("no_budget", 1)]
    assert [(r.code, n) for r, n in total.top_signals] == [("competitor_mentioned", 1), ("pricing_objection", 1)]
    assert sorted((r.code, n) for r, n in total.top_rejects) == [("duplicate", 1), ("student", 1)]


def test_by_source_segment_definition_and_week(data):
    report = march()
    sources = by_key(report.by_source)
    assert set(sources) == {"Web", "Webinar"}
    assert (sources["Web"].asked, sources["Web"].answered, sources["Web"].average) == (3, 3, pytest.approx(8 / 3))
    webinar = sources["Webinar"]
    assert (webinar.asked, webinar.answered, webinar.expired, webinar.pending) == (3, 1, 1, 1)
    assert (webinar.average, webinar.coverage) == (2.0, pytest.approx(1 / 3))

    segments = by_key(report.by_segment)
    assert (segments["hot"].asked, segments["hot"].average) == (1, 5.0)
    assert (segments["standard"].asked, segments["standard"].average) == (5, pytest.approx(5 / 3))

    definitions = by_key(report.by_definition)
    assert [row.label for row in report.by_definition] == ["v1", "v2"]
    assert (definitions["1"].average, definitions["2"].average) == (3.0, 2.0)

    weeks = by_key(report.by_week)
    assert list(weeks) == ["2026-03-02", "2026-03-09"]
    assert [weeks[w].asked for w in weeks] == [3, 3]
    assert [(r.code, n) for r, n in weeks["2026-03-09"].top_rejects] == [("duplicate", 1)]


def test_a_definition_version_whose_leads_rate_worse_than_the_one_before_is_called_out(data):
    worse = march().worse_definitions
    assert [(row.label, row.worse_than.label) for row in worse] == [("v2", "v1")]


def test_the_period_is_the_week_the_leads_were_handed_over(data):
    report = lead_quality(start=date(2026, 2, 23), end=date(2026, 3, 1))
    assert (report.total.asked, report.total.average) == (1, 4.0)
    assert lead_quality(start=date(2026, 4, 1), end=date(2026, 4, 30)).total.asked == 0


def test_the_requests_behind_a_figure(data):
    def names(**filters):
        selected = QualityFilter(start=date(2026, 3, 1), end=date(2026, 3, 31), **filters)
        return sorted(r.handoff.lead.first_name for r in quality_requests(selected))

    assert names() == ["A", "B", "C", "D", "E", "F"]
    assert names(source="Webinar", outcome="expired") == ["F"]
    assert names(rating=2) == ["D", "E"]
    assert names(reason="pricing_objection") == ["D"]
    assert names(reject_reason="student") == ["B"]
    assert names(definition=2, outcome="answered") == ["D", "E"]
    assert names(week=date(2026, 3, 2), segment="standard") == ["B", "C"]
    assert names(source="") == []


def test_the_page_shows_the_figures_and_each_links_to_its_feedback(data, browser):
    page = browser("marketer").get(reverse("lead_quality"), {"start": "2026-03-01", "end": "2026-03-31"})
    assert page.status_code == 200
    text = page.text
    assert "2.5" in text and "67 %" in text  # average, coverage
    assert "Definition v2 rates worse than v1." in text
    listed = reverse("quality_feedback") + "?start=2026-03-01&amp;end=2026-03-31"
    assert f'{listed}&amp;outcome=answered' in text
    assert f'{listed}&amp;source=Webinar&amp;outcome=expired' in text
    assert f'{listed}&amp;definition=2&amp;outcome=answered' in text
    assert f'{listed}&amp;reason=pricing_objection' in text

    behind = browser("marketer").get(
        reverse("quality_feedback"), {"start": "2026-03-01", "end": "2026-03-31", "source": "Webinar",
                                      "outcome": "expired"}
    )
    assert behind.status_code == 200
    assert ">F Lovelace" in behind.text.replace("<strong>", ">") and "Expired (not given)" in behind.text
    assert "D Lovelace" not in behind.text


def test_the_page_reads_a_fixed_number_of_queries_whatever_the_data(data, browser, django_assert_max_num_queries):
    marketer = browser("marketer")
    # Session, user, roles, profile; the two tallies; reason codes and definition versions by id.
    with django_assert_max_num_queries(8):
        marketer.get(reverse("lead_quality"), {"start": "2026-03-01", "end": "2026-03-31"})


@pytest.mark.parametrize("who", ["rep", "manager"])
def test_only_marketing_reads_the_lead_quality_pages(cast, browser, who):
    assert browser(who).get(reverse("lead_quality")).status_code == 403
    assert browser(who).get(reverse("quality_feedback")).status_code == 403


def test_a_period_that_ends_before_it_starts_is_refused(cast, browser):
    response = browser("marketer").get(reverse("lead_quality"), {"start": "2026-03-31", "end": "2026-03-01"})
    assert response.status_code == 400 and "The period starts after it ends." in response.text


def _tallies():
    return (
        sorted(FeedbackTally.objects.values_list("day", "lead_source", "segment", "definition_id",
                                                 *FeedbackTally.COUNTS)),
        sorted(FeedbackReasonTally.objects.filter(given__gt=0).values_list(
            "day", "lead_source", "segment", "definition_id", "reason_id", "given")),
    )


def test_the_tallies_kept_along_the_way_equal_a_recount_from_the_requests(data):
    kept = _tallies()
    assert kept[0] and kept[1]
    feedback_tallies_rebuild()
    assert _tallies() == kept


def test_the_rebuild_command_recounts_what_was_lost(data):
    kept = _tallies()
    FeedbackTally.objects.all().delete()
    FeedbackReasonTally.objects.update(given=0)
    out = StringIO()
    call_command("rebuild_feedback_tallies", stdout=out)
    assert "Recounted" in out.getvalue()
    assert _tallies() == kept
