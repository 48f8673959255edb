"""The rep's pages: "Feedback to give" (count in the menu, one click per lead), the rating form on the lead page and
a request's own page; managers and marketers read feedback there, they do not give it."""
from __future__ import annotations

import pytest
from django.urls import reverse

from handoff.models import FeedbackOutcome, LeadFeedback
from handoff.services.feedback import lead_feedback_give

from .conftest import converted, person, rejected, request_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def two(cast, clock, ask):
    """The rep was asked about a converted lead, then a rejected one; another rep about one of theirs."""
    first = converted(cast, first_name="Cleo")
    second = rejected(cast, first_name="Dan", reason="student")
    theirs = converted(cast, owner=cast.other_rep, first_name="Olga")
    ask()
    return request_of(first), request_of(second), request_of(theirs)


def test_the_rep_sees_what_to_rate_oldest_first_with_the_count_in_the_menu(cast, two, browser):
    page = browser("rep").get(reverse("feedback_to_give"))
    text = page.text
    assert page.status_code == 200
    assert 'Feedback to give <span class="count" aria-label="2 waiting">2</span>' in text
    assert text.index("Cleo") < text.index("Dan") and "Olga" not in text
    assert "You rejected it" in text and "Student" in text
    # Five one-click buttons per lead; the rejected lead offers market signals, not quality reasons.
    assert text.count(f'name="r{two[0].pk}-rating"') == 5
    assert f'name="r{two[1].pk}-reasons" value="competitor_mentioned"' in text
    assert f'name="r{two[1].pk}-reasons" value="great_fit"' not in text
    assert f'name="r{two[0].pk}-reasons" value="great_fit"' in text


def test_one_click_rates_a_lead_and_it_moves_to_recently_rated(cast, two, browser):
    rep = browser("rep")
    page = reverse("feedback_to_give")
    response = rep.post(
        page,
        {"request": two[0].pk, f"r{two[0].pk}-rating": "4", f"r{two[0].pk}-reasons": ["great_fit"],
         f"r{two[0].pk}-note": "", f"r{two[0].pk}-revision": "0", "next": page},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == page
    assert "Rated Cleo" in response.text and "4/5 (good)" in response.text
    feedback = LeadFeedback.objects.get()
    assert (feedback.rating, [r.code for r in feedback.reasons.all()]) == (4, ["great_fit"])
    assert 'aria-label="1 waiting">1</span>' in response.text
    assert "Recently rated" in response.text and 'aria-pressed="true"' in response.text


def test_a_problem_is_shown_next_to_its_field_and_nothing_is_saved(cast, two, browser):
    response = browser("rep").post(
        reverse("feedback_to_give"),
        {"request": two[0].pk, f"r{two[0].pk}-rating": "2", f"r{two[0].pk}-reasons": ["other"]},
    )
    assert response.status_code == 400
    assert "needs a note that explains it" in response.text
    assert not LeadFeedback.objects.exists()


@pytest.mark.parametrize("which", ["theirs", "", "x1", "99999999"])
def test_a_question_not_the_reps_cannot_be_answered_from_the_page(cast, two, browser, which):
    asked = two[2].pk if which == "theirs" else which
    response = browser("rep").post(reverse("feedback_to_give"), {"request": asked, f"r{asked}-rating": "1"})
    assert response.status_code == 404
    assert not LeadFeedback.objects.exists()


@pytest.mark.parametrize("who", ["marketer", "manager"])
def test_the_page_is_the_reps(cast, browser, who):
    assert browser(who).get(reverse("feedback_to_give")).status_code == 403


def test_the_lead_page_rates_and_comes_back(cast, two, browser):
    lead_page = reverse("lead_detail", args=[two[0].handoff.lead_id])
    text = browser("rep").get(lead_page).text
    assert "Sales feedback" in text and "How good was this lead?" in text
    action = reverse("feedback_request", args=[two[0].pk])
    assert f'action="{action}"' in text

    response = browser("rep").post(action, {f"r{two[0].pk}-rating": "5", "next": lead_page}, follow=True)
    assert response.redirect_chain[-1][0] == lead_page
    assert LeadFeedback.objects.get().rating == 5
    assert "Your rating" in response.text


def test_marketing_and_the_manager_read_the_feedback_on_the_lead_page_without_a_form(cast, two, browser):
    lead_feedback_give(request=two[0], actor=person(cast.rep), rating=2, reasons=["no_budget"], note="Tiny shop")
    for who in ("marketer", "manager"):
        text = browser(who).get(reverse("lead_detail", args=[two[0].handoff.lead_id])).text
        assert "2/5" in text and "No budget" in text and "Tiny shop" in text
        assert f'name="r{two[0].pk}-rating"' not in text


def test_a_requests_page_shows_the_history_to_its_readers_and_refuses_them_a_rating(cast, two, browser, clock):
    lead_feedback_give(request=two[0], actor=person(cast.rep), rating=2)
    lead_feedback_give(request=two[0], actor=person(cast.rep), rating=3, note="Better than I thought")
    url = reverse("feedback_request", args=[two[0].pk])
    page = browser("manager").get(url)
    assert page.status_code == 200
    assert "History" in page.text and "Better than I thought" in page.text and "changed 1 time" in page.text
    response = browser("manager").post(url, {f"r{two[0].pk}-rating": "1"})
    assert response.status_code == 403 and "Only rita.rep" in response.text
    assert LeadFeedback.objects.get().rating == 3
    assert browser("other_manager").get(url).status_code == 404


def test_an_expired_question_has_no_form(cast, two, browser):
    type(two[0]).objects.filter(pk=two[0].pk).update(outcome=FeedbackOutcome.EXPIRED, digests=2)
    text = browser("rep").get(reverse("feedback_request", args=[two[0].pk])).text
    assert "counts as not given" in text and f'name="r{two[0].pk}-rating"' not in text
