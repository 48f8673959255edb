"""The digest's one-click links: a signed token per request, rater and rating. Opening one writes nothing (mail
scanners open links); its page saves with one button; a link that cannot be used says why and writes nothing."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import signing
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from handoff.models import FeedbackOutcome, FeedbackRequest, LeadFeedback, LeadFeedbackRevision
from handoff.services.feedback import LINK_SALT, feedback_link_token, lead_feedback_give

from .conftest import MONDAY, converted, person, rejected, request_of

pytestmark = pytest.mark.django_db
WRITES = ("INSERT", "UPDATE", "DELETE")


@pytest.fixture
def asked(cast, clock, ask):
    handoff = converted(cast, first_name="Cleo")
    ask()
    return request_of(handoff)


def link(request, rating=4, *, rater=None, revision=0, salt=LINK_SALT) -> str:
    if salt != LINK_SALT:
        token = signing.dumps({"q": request.pk, "u": rater or request.rater_id, "r": rating, "v": revision}, salt=salt)
    else:
        token = feedback_link_token(request_id=request.pk, rater_id=rater or request.rater_id, rating=rating,
                                    revision=revision)
    return reverse("feedback_link", args=[token])


def written(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith(WRITES)]


def test_opening_a_link_shows_the_rating_chosen_and_writes_nothing(cast, asked):
    with CaptureQueriesContext(connection) as queries:
        response = Client().get(link(asked, 2))

    assert response.status_code == 200
    assert written(queries) == []
    text = response.text
    assert "How good was Cleo" in text and "Save 2/5" in text
    assert 'aria-current="true"><span class="rate-num">2</span>' in text
    assert "Competitor mentioned" in text and "Great fit" in text  # reasons and signals to add
    assert response["Cache-Control"].startswith("max-age=0")
    assert not LeadFeedback.objects.exists()
    asked.refresh_from_db()
    assert asked.outcome == FeedbackOutcome.PENDING


def test_the_other_ratings_are_links_to_their_own_pages_not_buttons_that_save(cast, asked):
    text = Client().get(link(asked, 2)).text
    for rating in (1, 3, 4, 5):
        assert link(asked, rating) in text
    assert text.count('type="submit"') == 1


def test_its_one_button_saves_the_rating_with_reasons_and_a_note_without_signing_in(cast, asked):
    url = link(asked, 2)
    response = Client().post(url, {f"r{asked.pk}-reasons": ["no_budget", "pricing_objection"],
                                    f"r{asked.pk}-note": "Loved it, cannot pay"})
    assert response.status_code == 200 and "Thank you" in response.text
    feedback = LeadFeedback.objects.get()
    assert (feedback.rating, feedback.note, feedback.rater) == (2, "Loved it, cannot pay", cast.rep)
    assert {r.code for r in feedback.reasons.all()} == {"no_budget", "pricing_objection"}
    assert feedback.revisions.get().via == "link"


def test_a_link_used_once_or_made_before_a_change_no_longer_changes_anything(cast, asked):
    first = link(asked, 2)
    assert Client().post(first, {}).status_code == 200
    for used in (first, link(asked, 5)):  # the same link again, and another button of the same mail
        response = Client().post(used, {})
        assert response.status_code == 409
        assert "You have already rated this lead" in response.text and "2/5" in response.text
        assert Client().get(used).status_code == 409
    assert LeadFeedback.objects.get().rating == 2 and LeadFeedbackRevision.objects.count() == 1


def test_a_link_for_the_current_version_changes_it(cast, asked):
    lead_feedback_give(request=asked, actor=person(cast.rep), rating=2)
    response = Client().post(link(asked, 4, revision=1), {})
    assert response.status_code == 200
    assert LeadFeedback.objects.get().revision == 2


def test_an_expired_link_says_so_and_writes_nothing(cast, asked, clock, settings):
    url = link(asked, 4)
    clock(MONDAY + timedelta(days=settings.FEEDBACK_LINK_DAYS, seconds=1))
    for response in (Client().get(url), Client().post(url, {})):
        assert response.status_code == 410 and "This link has expired" in response.text
    assert not LeadFeedback.objects.exists()


@pytest.mark.parametrize(
    "tamper",
    [
        lambda url: url.replace("/feedback/rate/", "/feedback/rate/x"),  # altered
        lambda url: url[:-8] + "/",  # cut short by a mail program
        lambda url: reverse("feedback_link", args=["not-a-token"]),
    ],
)
def test_a_forged_or_altered_link_says_so_and_writes_nothing(cast, asked, tamper):
    url = tamper(link(asked, 4))
    for response in (Client().get(url), Client().post(url, {})):
        assert response.status_code == 400 and "This link does not work" in response.text
    assert not LeadFeedback.objects.exists()


def test_a_token_made_for_another_purpose_is_refused(cast, asked):
    url = link(asked, 4, salt="django.contrib.auth.tokens")  # same shape, signed for something else
    assert Client().post(url, {}).status_code == 400
    assert not LeadFeedback.objects.exists()


def test_a_token_naming_someone_else_as_rater_is_refused(cast, asked):
    response = Client().post(link(asked, 4, rater=cast.other_rep.pk), {})
    assert response.status_code == 400
    assert not LeadFeedback.objects.exists()


@pytest.mark.parametrize("who", ["other_rep", "manager", "marketer"])
def test_someone_else_signed_in_is_refused(cast, asked, browser, who):
    response = browser(who).post(link(asked, 4), {})
    assert response.status_code == 403 and "This link is for someone else" in response.text
    assert not LeadFeedback.objects.exists()


def test_the_rater_signed_in_may_use_it(cast, asked, browser):
    assert browser("rep").post(link(asked, 5), {}).status_code == 200
    assert LeadFeedback.objects.get().rating == 5


def test_an_expired_question_says_so(cast, asked):
    FeedbackRequest.objects.filter(pk=asked.pk).update(outcome=FeedbackOutcome.EXPIRED, digests=2)
    response = Client().post(link(asked, 4), {})
    assert response.status_code == 410 and "expired after 2 digests" in response.text
    assert not LeadFeedback.objects.exists()


def test_bad_input_on_the_page_is_shown_and_saves_nothing(cast, clock, ask):
    handoff = rejected(cast)
    ask()
    asked = request_of(handoff)
    response = Client().post(link(asked, 1), {f"r{asked.pk}-reasons": ["great_fit"]})  # not offered after a reject
    assert response.status_code == 400 and "Choose among the listed reasons" in response.text
    response = Client().post(link(asked, 1), {f"r{asked.pk}-note": "x" * 2001})
    assert response.status_code == 400
    assert not LeadFeedback.objects.exists()
