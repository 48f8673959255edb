"""The rep's list as a worklist: what needs them now first, the rest a filter away; search, filters, overdue marked
in words, one shared action dialog instead of forms per row, bulk accept."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from handoff.models import Handoff, HandoffEvent, HandoffState, Milestone
from handoff.services.handoffs import handoff_accept, handoff_dispute, handoff_qualify, handoff_reject
from tests.factories import make_lead

pytestmark = pytest.mark.django_db
PAGE = reverse("my_handoffs")


def qualify(cast, **fields) -> Handoff:
    return handoff_qualify(lead=make_lead(owner=cast.rep, **fields), actor=cast.actor("marketer"))


@pytest.fixture
def worklist(cast):
    """One handoff of the rep's in each state they meet."""
    to_accept = qualify(cast, first_name="Tessa", last_name="Accept")
    to_touch = handoff_accept(handoff=qualify(cast, first_name="Theo", last_name="Touch"), actor=cast.actor("rep"))
    rejected = handoff_reject(handoff=qualify(cast, first_name="Rhea", last_name="Rejected"), actor=cast.actor("rep"),
                              reason="student")
    disputed = handoff_dispute(
        handoff=handoff_reject(handoff=qualify(cast, first_name="Dora", last_name="Disputed"), actor=cast.actor("rep"),
                               reason="student"),
        actor=cast.actor("marketer"), reason="meets_definition",
    )
    return {"to_accept": to_accept, "to_touch": to_touch, "rejected": rejected, "disputed": disputed}


def test_the_list_opens_on_what_needs_the_rep_now_and_the_rest_is_a_filter_away(cast, browser, worklist):
    client = browser("rep")

    todo = client.get(PAGE).text
    everything = client.get(PAGE, {"state": "all"}).text
    only_disputed = client.get(PAGE, {"state": "disputed"}).text

    assert "Tessa Accept" in todo and "Theo Touch" in todo
    assert "Rhea Rejected" not in todo and "Dora Disputed" not in todo
    for name in ("Tessa Accept", "Theo Touch", "Rhea Rejected", "Dora Disputed"):
        assert name in everything
    assert "Dora Disputed" in only_disputed and "Tessa Accept" not in only_disputed


def test_the_former_all_tab_still_shows_everything(cast, browser, worklist):
    assert "Rhea Rejected" in browser("rep").get(PAGE, {"show": "all"}).text


@pytest.mark.parametrize("query", ["grace hopper", "navy.mil", "US Nav", "HOPPER"])
def test_search_matches_the_leads_name_company_or_email(cast, browser, query):
    qualify(cast, first_name="Grace", last_name="Hopper", email="grace@navy.mil", company="US Navy")
    qualify(cast, first_name="Alan", last_name="Turing", email="alan@npl.uk", company="NPL")

    text = browser("rep").get(PAGE, {"q": query}).text

    assert "Grace Hopper" in text
    assert "Alan Turing" not in text


def test_filters_by_source_and_segment(cast, browser):
    qualify(cast, first_name="Demo", last_name="Asker", lead_source="Demo Request", score=50)  # hot by its source
    qualify(cast, first_name="Web", last_name="Reader", lead_source="Web", score=40)  # standard
    client = browser("rep")

    by_source = client.get(PAGE, {"source": "Web"}).text
    hot = client.get(PAGE, {"segment": "hot"}).text

    assert "Web Reader" in by_source and "Demo Asker" not in by_source
    assert "Demo Asker" in hot and "Web Reader" not in hot
    assert '<option value="Demo Request">' in by_source  # the rep's own sources are the choices


def test_breached_filter_and_overdue_rows_are_marked_in_words_with_days(cast, browser):
    late = qualify(cast, first_name="Long", last_name="Overdue")
    Milestone.objects.filter(handoff=late).update(
        due_at=timezone.now() - timedelta(hours=164, minutes=5), breached_at=timezone.now() - timedelta(hours=164)
    )
    qualify(cast, first_name="On", last_name="Time")
    client = browser("rep")

    breached = client.get(PAGE, {"breached": "yes"}).text
    never = client.get(PAGE, {"breached": "no"}).text

    assert "Long Overdue" in breached and "On Time" not in breached
    assert "On Time" in never and "Long Overdue" not in never
    assert "<strong>Overdue</strong> · breached 6 d 20 h ago" in breached
    assert 'class="is-overdue"' in breached


def test_rows_share_one_action_dialog_and_one_form_however_many_rows(cast, browser):
    for _ in range(12):
        qualify(cast)
    accepted = handoff_accept(handoff=qualify(cast), actor=cast.actor("rep"))

    text = browser("rep").get(PAGE).text

    assert text.count("<form") == 5  # sign out, filters, bulk, the one-click actions, the dialog
    assert text.count("<dialog") == 1
    # A button per one-click action (Accept on each qualified row, Convert on the accepted one), no form of its own.
    assert text.count('form="row-action"') == 13
    assert text.count('data-dialog="reject"') == 12
    assert f'href="{reverse("handoff_action", args=[accepted.pk, "touch"])}?next=' in text


def test_bulk_accept_accepts_every_ticked_lead_all_or_none(cast, browser):
    first, second, untouched = qualify(cast), qualify(cast), qualify(cast)

    response = browser("rep").post(PAGE, {"op": "accept", "handoffs": [first.pk, second.pk]}, follow=True)

    states = dict(Handoff.objects.values_list("pk", "state"))
    assert states == {first.pk: "accepted", second.pk: "accepted", untouched.pk: "qualified"}
    assert HandoffEvent.objects.filter(action="accept", actor=cast.rep).count() == 2
    assert "Accepted 2 leads" in response.text


def test_bulk_accept_with_one_already_accepted_accepts_none(cast, browser):
    fresh = qualify(cast)
    taken = handoff_accept(handoff=qualify(cast, first_name="Already", last_name="Taken"), actor=cast.actor("rep"))

    response = browser("rep").post(PAGE, {"op": "accept", "handoffs": [fresh.pk, taken.pk]})

    assert response.status_code == 409
    assert "Nothing was accepted" in response.text and "Already Taken" in response.text
    fresh.refresh_from_db()
    assert fresh.state == HandoffState.QUALIFIED


@pytest.mark.parametrize("op", ["accept", "reject"])
def test_a_bulk_action_with_nothing_ticked_says_to_tick_the_leads_first(cast, browser, qualified, op):
    response = browser("rep").post(PAGE, {"op": op, "reason": "student"})

    assert response.status_code == 400
    assert "Tick the leads first." in response.text
    qualified.refresh_from_db()
    assert qualified.state == HandoffState.QUALIFIED
