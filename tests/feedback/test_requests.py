"""The request job: a request at each feedback point of the handoff's SLA policy, in business days of the owner's
calendar, once per handoff and rater, however often it runs."""
from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from handoff.models import (
    FeedbackOutcome,
    FeedbackPoint,
    FeedbackPointReached,
    FeedbackReasonTally,
    FeedbackRequest,
    FeedbackTally,
    Milestone,
    ReasonCode,
    SlaPolicy,
)
from handoff.services import handoffs as machine
from handoff.services.actors import Actor
from handoff.services.feedback import feedback_tallies_rebuild
from tests.factories import make_lead
from tests.sla.conftest import make_calendar

from .conftest import BERLIN, MONDAY, NY, accepted, converted, handed, local, person, rejected, request_of

pytestmark = pytest.mark.django_db


def test_a_rejected_lead_is_asked_about_its_rep_with_the_terms_it_was_judged_by(cast, clock, ask):
    handoff = rejected(cast, reason="student", lead_source="Webinar", score=85)
    assert FeedbackRequest.objects.count() == 0  # the transition only notes the point; the job asks

    assert ask() == 1

    request = request_of(handoff)
    accept_clock = Milestone.objects.get(handoff=handoff, kind="accept")
    assert (request.rater, request.point, request.outcome) == (cast.rep, FeedbackPoint.REJECTED, "pending")
    assert request.point_at == handoff.rejected_at == MONDAY and request.asked_at == MONDAY
    assert request.reject_reason == ReasonCode.objects.get(kind="reject", code="student")
    assert (request.definition_id, request.policy_id) == (handoff.definition_id, accept_clock.policy_id)
    assert (request.lead_source, request.segment) == ("Webinar", "hot")
    assert request.qualified_at == handoff.qualified_at
    assert FeedbackPointReached.objects.count() == 0


def test_converted_and_recycled_leads_are_asked_about_once_each_handoff(cast, clock, ask):
    won = converted(cast)
    nurtured = machine.handoff_recycle(handoff=accepted(cast), actor=person(cast.rep), reason="not_ready")
    # Rejected, then recycled by marketing: asked once, about the reject (the first point it reached).
    both = machine.handoff_recycle(handoff=rejected(cast), actor=person(cast.marketer), reason="nurture")

    assert ask() == 3

    assert request_of(won).point == FeedbackPoint.CONVERTED
    assert request_of(nurtured).point == FeedbackPoint.RECYCLED
    assert request_of(both).point == FeedbackPoint.REJECTED
    assert request_of(both).reject_reason.code == "wrong_persona"  # not the recycle reason the handoff now shows
    assert ask() == 0


def test_a_lead_nobody_judged_is_not_asked_about(cast, clock, ask):
    # The SLA escalation recycles a lead its rep never accepted or rejected: no one has an opinion of it.
    machine.handoffs_recycle(handoffs=[handed(cast)], actor=Actor.system(), reason="sla_breach")
    queued = handed(cast, owner=None)  # the queue's: no rep
    machine.handoff_reject(handoff=queued, actor=person(cast.manager), reason="duplicate")

    assert ask() == 0
    assert FeedbackRequest.objects.count() == 0


def test_the_policy_version_that_timed_the_handoff_decides_where_it_is_asked(cast, clock, ask, policy_v2):
    # v1 timed the first handoff; v2 (which asks at no reject) times the next one.
    old = handed(cast)
    SlaPolicy.objects.update(is_active=False)
    policy_v2.save()
    new = handed(cast)
    for handoff in (old, new):
        machine.handoff_reject(handoff=handoff, actor=person(cast.rep), reason="duplicate")

    assert ask() == 1
    assert request_of(old).policy.version == 1
    assert not FeedbackRequest.objects.filter(handoff=new).exists()


@pytest.fixture
def policy_v2(db):
    v1 = SlaPolicy.objects.get(version=1)
    return SlaPolicy(
        version=2,
        name="v2 without feedback on rejects",
        segments=v1.segments,
        feedback_on_reject=False,
        feedback_after_accept_days=None,
        is_active=True,
    )


def test_an_accepted_lead_is_asked_about_five_business_days_later_in_the_owners_calendar(cast, new_york, clock, ask):
    # Accepted Thursday 21 May 2026 in New York; Monday 25 May is Memorial Day. Five business days later is
    # Friday 29 May (Fri 22, Tue 26, Wed 27, Thu 28, Fri 29): asked from the start of that day, New York time.
    clock(local("2026-05-21 11:00", NY))
    handoff = accepted(cast)

    clock(local("2026-05-28 23:59", NY))
    assert ask() == 0
    clock(local("2026-05-29 00:00", NY))
    assert ask() == 1

    request = request_of(handoff)
    assert request.point == FeedbackPoint.ACCEPTED
    assert request.point_at == local("2026-05-29 00:00", NY)
    assert ask() == 0


def test_business_days_count_in_each_owners_own_calendar(cast, new_york, berlin_rep, clock, ask):
    # Both accept on Thursday 8 October 2026. New York keeps Columbus Day (Monday 12 October) closed, Berlin works:
    # five business days later is Thursday 15 October in Berlin (9, 12, 13, 14, 15) and Friday 16 October in New
    # York (9, 13, 14, 15, 16), each from the start of that day in its own zone.
    clock(local("2026-10-08 10:00", NY))
    ny = accepted(cast)
    berlin = accepted(cast, owner=berlin_rep)
    clock(local("2026-10-15 00:30", BERLIN))  # still Wednesday evening in New York
    assert ask() == 1
    assert request_of(berlin).point_at == local("2026-10-15 00:00", BERLIN)
    clock(local("2026-10-15 23:59", NY))
    assert ask() == 0
    clock(local("2026-10-16 00:00", NY))
    assert ask() == 1
    assert request_of(ny).point_at == local("2026-10-16 00:00", NY)


def test_holidays_are_skipped_and_a_lead_accepted_on_a_weekend_counts_from_the_next_working_day(
    cast, new_york, clock, ask
):
    # Accepted Saturday 4 July 2026 (Independence Day; observed Friday 3 July). Five business days: Mon 6 … Fri 10.
    clock(local("2026-07-04 12:00", NY))
    handoff = accepted(cast)
    clock(local("2026-07-09 23:00", NY))
    assert ask() == 0
    clock(local("2026-07-10 08:00", NY))
    assert ask() == 1
    assert request_of(handoff).point_at == local("2026-07-10 00:00", NY)


def test_a_lead_that_converts_first_is_asked_about_as_converted_only(cast, clock, ask):
    handoff = converted(cast)
    clock(local("2026-03-20 12:00", "UTC"))
    assert ask() == 1
    assert request_of(handoff).point == FeedbackPoint.CONVERTED


def test_a_policy_that_asks_after_no_days_never_asks_after_accepting(cast, clock, ask):
    SlaPolicy.objects.filter(version=1).update(feedback_after_accept_days=None)
    accepted(cast)
    clock(local("2026-04-30 12:00", "UTC"))
    assert ask() == 0


def test_the_first_look_reaches_back_only_the_look_back_window(cast, clock, ask, settings):
    settings.FEEDBACK_LOOKBACK_DAYS = 14
    long_ago = accepted(cast)
    clock(local("2026-03-16 12:00", "UTC"))
    recent = accepted(cast)
    # First run on 14 April: the look-back reaches 31 March, so the handoff whose point came on 16 March is not
    # asked about (nobody remembers a lead worked five weeks ago); the one whose point came on 23 March neither…
    clock(local("2026-04-14 12:00", "UTC"))
    assert ask() == 0
    # … while a later acceptance is, once its day comes.
    clock(local("2026-04-14 13:00", "UTC"))
    fresh = accepted(cast)
    clock(local("2026-04-21 00:00", "UTC"))
    assert ask() == 1
    assert request_of(fresh).point == FeedbackPoint.ACCEPTED
    assert not FeedbackRequest.objects.filter(handoff__in=[long_ago, recent]).exists()


def test_a_re_run_the_same_day_reads_no_handoff(cast, clock, ask):
    rejected(cast)
    accepted(cast)
    clock(local("2026-03-16 12:00", "UTC"))
    assert ask() == 2
    clock(local("2026-03-16 12:15", "UTC"))
    with CaptureQueriesContext(connection) as queries:
        assert ask() == 0
    # The policies' points, an empty queue, the calendars and the scan rows: no handoff is read.
    assert len(queries.captured_queries) == 4
    assert not any('"handoff_handoff"' in q["sql"] for q in queries.captured_queries)
    clock(local("2026-03-17 00:00", "UTC"))  # a new day: the cut-off moves, nothing new was accepted
    assert ask() == 0


def test_the_lead_deleted_in_the_crm_withdraws_its_question_and_asks_nothing_new(cast, clock, ask):
    asked = rejected(cast)
    assert ask() == 1
    not_asked_yet = rejected(cast)
    machine.handoffs_close(handoffs=[asked, not_asked_yet], actor=Actor.sync())  # the sync: deleted in the CRM

    assert ask() == 0
    assert request_of(asked).outcome == FeedbackOutcome.WITHDRAWN
    assert request_of(asked).outcome_at == MONDAY
    assert not FeedbackRequest.objects.filter(handoff=not_asked_yet).exists()


def test_an_inactive_rep_is_not_asked(cast, clock, ask):
    handoff = rejected(cast)
    cast.rep.is_active = False
    cast.rep.save()
    assert ask() == 0
    assert not FeedbackRequest.objects.filter(handoff=handoff).exists()


def test_each_rater_is_asked_once_per_handoff_even_after_a_reassignment(cast, clock, ask):
    handoff = accepted(cast)
    machine.handoffs_reassign(handoffs=[handoff], actor=person(cast.manager), owner=cast.other_rep)
    machine.handoff_convert(handoff=handoff, actor=person(cast.other_rep))
    assert ask() == 1
    assert request_of(handoff).rater == cast.other_rep  # the owner when it converted
    clock(local("2026-03-20 12:00", "UTC"))
    assert ask() == 0


def test_a_transition_that_reaches_a_point_queues_the_job_after_it_commits(
    cast, clock, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr("handoff.services.jobs._send", sent.append)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        rejected(cast)
    assert sent == []
    for callback in callbacks:
        callback()
    assert "handoff.feedback_request" in sent


def test_many_handoffs_reaching_points_at_once_are_asked_about_in_batches(cast, clock, ask):
    leads = [make_lead(owner=cast.rep) for _ in range(25)]
    handoffs = machine.handoffs_qualify(lead_ids=[lead.pk for lead in leads], actor=Actor.rule())
    machine.handoffs_reject(handoffs=handoffs, actor=person(cast.rep), reason="duplicate")
    assert ask(batch=10) == 25
    assert FeedbackRequest.objects.filter(point=FeedbackPoint.REJECTED).count() == 25
    assert FeedbackPointReached.objects.count() == 0


def test_the_requests_the_job_adds_are_counted_on_the_day_they_were_handed_over_in_the_organisations_zone(
    cast, new_york, clock, ask, settings
):
    # Handed over at 21:30 on Monday 9 March in New York: already Tuesday in UTC. The report's days are those of
    # TIME_ZONE, and the counts the job keeps as it asks must be the ones a recount from the requests gives.
    settings.TIME_ZONE = NY
    clock(local("2026-03-09 21:30", NY))
    rejected(cast, reason="duplicate")
    accepted(cast)
    clock(local("2026-03-16 12:00", NY))  # the fifth business day after the day of acceptance, in New York
    assert ask() == 2

    tally = FeedbackTally.objects.get()
    assert (tally.day, tally.pending, tally.answered, tally.expired) == (date(2026, 3, 9), 2, 0, 0)
    reasons = FeedbackReasonTally.objects.get()
    assert (reasons.day, reasons.reason.code, reasons.given) == (date(2026, 3, 9), "duplicate", 1)
    kept = _counts()
    feedback_tallies_rebuild()
    assert _counts() == kept


def _counts():
    return (
        sorted(FeedbackTally.objects.values_list("day", "lead_source", "segment", "definition_id",
                                                 *FeedbackTally.COUNTS)),
        sorted(FeedbackReasonTally.objects.values_list("day", "lead_source", "segment", "definition_id",
                                                       "reason_id", "given")),
    )


def test_points_of_people_no_longer_active_are_used_up_without_asking(cast, clock, ask):
    rejected(cast)
    type(cast.rep).objects.filter(pk=cast.rep.pk).update(is_active=False)
    assert ask() == 0
    assert not FeedbackPointReached.objects.exists()
    assert not FeedbackRequest.objects.exists()


def test_a_rep_without_a_calendar_of_their_own_counts_in_their_teams_and_one_without_either_in_the_default(
    cast, clock, ask
):
    # Both accept on Thursday 8 October 2026. The rep's team works in Berlin: five business days later starts at
    # 00:00 on Thursday 15 October in Berlin (22:00 UTC the evening before); the other rep's team has no calendar,
    # so the default one (UTC) counts: 00:00 UTC on the 15th.
    cast.team.calendar = make_calendar("Berlin office", BERLIN, country="DE")
    cast.team.save()
    clock(local("2026-10-08 10:00", "UTC"))
    in_berlin = accepted(cast)
    by_default = accepted(cast, owner=cast.other_rep)
    clock(local("2026-10-14 23:00", "UTC"))
    assert ask() == 1
    assert request_of(in_berlin).point_at == local("2026-10-15 00:00", BERLIN)
    clock(local("2026-10-15 00:00", "UTC"))
    assert ask() == 1
    assert request_of(by_default).point_at == local("2026-10-15 00:00", "UTC")
