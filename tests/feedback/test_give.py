"""Giving feedback: only the rater, while asked or inside the change window, with valid input; every version kept."""
from __future__ import annotations

from datetime import timedelta

import pytest

from handoff.exceptions import InvalidInput, NotAllowed, WrongState
from handoff.models import FeedbackOutcome, LeadFeedback, LeadFeedbackRevision, ReasonCode
from handoff.services.feedback import lead_feedback_give

from .conftest import MONDAY, converted, person, rejected, request_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def asked(cast, clock, ask):
    """The rep is asked about a lead they converted."""
    handoff = converted(cast, lead_source="Webinar")
    ask()
    return request_of(handoff)


@pytest.fixture
def asked_after_reject(cast, clock, ask):
    handoff = rejected(cast, reason="no_budget")
    ask()
    return request_of(handoff)


def give(request, user, **fields):
    fields.setdefault("rating", 4)
    return lead_feedback_give(request=request, actor=person(user), **fields)


def nothing_written() -> bool:
    return not LeadFeedback.objects.exists() and not LeadFeedbackRevision.objects.exists()


def test_the_rater_rates_with_reasons_and_a_note_and_the_request_is_answered(cast, asked):
    feedback = give(asked, cast.rep, rating=2, reasons=["no_budget", "pricing_objection"], note="  Went quiet  ")

    asked.refresh_from_db()
    assert (asked.outcome, asked.outcome_at) == (FeedbackOutcome.ANSWERED, MONDAY)
    assert (feedback.rating, feedback.note, feedback.revision) == (2, "Went quiet", 1)
    assert {r.code for r in feedback.reasons.all()} == {"no_budget", "pricing_objection"}
    # The terms the handoff was judged and timed by, copied.
    assert (feedback.definition_id, feedback.policy_id) == (asked.definition_id, asked.policy_id)
    revision = feedback.revisions.get()
    assert (revision.rating, revision.reasons, revision.by, revision.via, revision.at) == (
        2, ["no_budget", "pricing_objection"], cast.rep, "app", MONDAY
    )


@pytest.mark.parametrize("who", ["marketer", "manager", "other_rep", "outsider"])
def test_nobody_but_the_rater_may_rate(cast, asked, who):
    with pytest.raises(NotAllowed) as refused:
        give(asked, getattr(cast, who))
    assert refused.value.status == 403 and "Only rita.rep" in refused.value.message
    assert nothing_written()
    asked.refresh_from_db()
    assert asked.outcome == FeedbackOutcome.PENDING


def test_a_deactivated_rater_may_not_rate(cast, asked):
    cast.rep.is_active = False
    cast.rep.save()
    with pytest.raises(NotAllowed):
        give(asked, cast.rep)
    assert nothing_written()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"rating": 0}, "rating"),
        ({"rating": 6}, "rating"),
        ({"rating": "five"}, "rating"),
        ({"rating": True}, "rating"),
        ({"rating": None}, "rating"),
        ({"reasons": ["no_such_reason"]}, "reasons"),
        ({"reasons": ["student"]}, "reasons"),  # a reject reason, not a feedback one
        ({"reasons": ["other"]}, "note"),  # "Other" needs a note
        ({"note": "x" * 2001}, "note"),
        ({"note": 12}, "note"),
        ({"reasons": [f"r{i}" for i in range(11)]}, "reasons"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(cast, asked, fields, field):
    with pytest.raises(InvalidInput) as refused:
        give(asked, cast.rep, **fields)
    assert refused.value.field == field
    assert nothing_written()


def test_an_inactive_reason_is_refused_unless_the_feedback_already_had_it(cast, asked):
    give(asked, cast.rep, reasons=["bad_timing"])
    ReasonCode.objects.filter(kind="feedback", code__in=["bad_timing", "duplicate"]).update(is_active=False)
    with pytest.raises(InvalidInput) as refused:
        give(asked, cast.rep, reasons=["duplicate"])
    assert refused.value.field == "reasons"
    # Changing the rating keeps a reason retired since it was given.
    assert give(asked, cast.rep, rating=1, reasons=["bad_timing"]).revision == 2


def test_a_rejected_lead_takes_market_signals_but_not_quality_reasons(cast, asked_after_reject):
    with pytest.raises(InvalidInput) as refused:
        give(asked_after_reject, cast.rep, reasons=["no_budget"])
    assert refused.value.field == "reasons" and "reject reason" in refused.value.message
    feedback = give(asked_after_reject, cast.rep, rating=1, reasons=["competitor_mentioned"])
    assert [r.code for r in feedback.reasons.all()] == ["competitor_mentioned"]


def test_feedback_changes_inside_the_window_and_every_version_is_kept(cast, asked, clock):
    give(asked, cast.rep, rating=2, reasons=["no_budget"], note="First call")
    clock(MONDAY + timedelta(days=3))
    give(asked, cast.rep, rating=4, reasons=["great_fit"], note="They came back", via="link")
    clock(MONDAY + timedelta(days=14))  # the last moment of the 14-day window
    feedback = give(asked, cast.rep, rating=5, reasons=[])

    assert (feedback.rating, feedback.revision, feedback.given_at, feedback.changed_at) == (
        5, 3, MONDAY, MONDAY + timedelta(days=14)
    )
    assert list(feedback.revisions.values_list("revision", "rating", "reasons", "note", "via")) == [
        (1, 2, ["no_budget"], "First call", "app"),
        (2, 4, ["great_fit"], "They came back", "link"),
        (3, 5, [], "", "app"),
    ]
    with pytest.raises(TypeError):
        feedback.revisions.update(rating=1)  # the history is append-only
    with pytest.raises(TypeError):
        feedback.revisions.first().delete()


def test_after_the_change_window_feedback_no_longer_changes(cast, asked, clock, settings):
    settings.FEEDBACK_CHANGE_DAYS = 7
    give(asked, cast.rep, rating=2)
    clock(MONDAY + timedelta(days=7, seconds=1))
    with pytest.raises(WrongState) as refused:
        give(asked, cast.rep, rating=5)
    assert refused.value.status == 409 and refused.value.code == "change_window_over"
    assert LeadFeedback.objects.get().rating == 2 and LeadFeedbackRevision.objects.count() == 1


@pytest.mark.parametrize("outcome", [FeedbackOutcome.EXPIRED, FeedbackOutcome.WITHDRAWN])
def test_an_expired_or_withdrawn_request_cannot_be_answered(cast, asked, outcome):
    type(asked).objects.filter(pk=asked.pk).update(outcome=outcome)
    with pytest.raises(WrongState):
        give(asked, cast.rep)
    assert nothing_written()


def test_the_same_answer_twice_is_one_version(cast, asked):
    give(asked, cast.rep, rating=3, reasons=["bad_timing"], note="Later")
    again = give(asked, cast.rep, rating=3, reasons=["bad_timing"], note="Later ")
    assert again.revision == 1 and LeadFeedbackRevision.objects.count() == 1


def test_a_change_made_since_the_page_was_opened_is_a_conflict(cast, asked):
    give(asked, cast.rep, rating=3, revision=0)
    with pytest.raises(WrongState) as refused:
        give(asked, cast.rep, rating=1, revision=0)  # another tab, opened before the first answer
    assert refused.value.code == "superseded"
    assert LeadFeedback.objects.get().rating == 3
