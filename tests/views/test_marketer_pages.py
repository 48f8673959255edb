"""Marketing's pages: qualifying leads from the list, and disputing or recycling what sales rejected."""
from __future__ import annotations

import pytest
from django.urls import reverse

from handoff.models import Handoff, HandoffEvent, HandoffState
from handoff.services.handoffs import handoff_reject
from tests.factories import make_lead

pytestmark = pytest.mark.django_db


def test_leads_to_qualify_lists_live_leads_without_an_open_handoff(cast, browser, qualified):
    waiting = make_lead(owner=cast.rep, first_name="Grace", last_name="Hopper")
    make_lead(owner=cast.rep, first_name="Gone", last_name="Away", is_deleted=True)

    text = browser("marketer").get(reverse("leads_to_qualify")).text

    assert "Grace Hopper" in text
    assert reverse("lead_qualify", args=[waiting.pk]) in text
    assert str(qualified.lead) not in text
    assert "Gone Away" not in text


def test_search_matches_name_email_and_company(cast, browser):
    make_lead(first_name="Grace", last_name="Hopper", email="grace@navy.mil", company="US Navy")
    make_lead(first_name="Alan", last_name="Turing", email="alan@npl.uk", company="NPL")
    client = browser("marketer")

    for query in ("hopper", "navy.mil", "US Nav"):
        text = client.get(reverse("leads_to_qualify"), {"q": query}).text
        assert "Grace Hopper" in text
        assert "Alan Turing" not in text


def test_leads_are_paged_fifty_at_a_time(cast, browser):
    for n in range(51):
        make_lead(first_name="Lead", last_name=f"Number{n:02d}")
    client = browser("marketer")

    first = client.get(reverse("leads_to_qualify")).text
    second = client.get(reverse("leads_to_qualify"), {"page": 2}).text

    assert first.count('action="/leads/') == 50
    assert second.count('action="/leads/') == 1
    # Not counted (every live lead not yet qualified would be counted on every view): newer and older only.
    assert "Older →" in first and "Page 1" in first
    assert "Page 2" in second and "← Newer" in second and "Older →" not in second


def test_marketer_qualifies_a_lead_from_the_list(cast, browser, lead):
    page = reverse("leads_to_qualify")
    response = browser("marketer").post(
        reverse("lead_qualify", args=[lead.pk]), {"note": "Asked for pricing", "next": page}, follow=True
    )

    handoff = Handoff.objects.get(lead=lead)
    assert handoff.state == HandoffState.QUALIFIED
    assert handoff.owner == cast.rep
    event = HandoffEvent.objects.get(handoff=handoff)
    assert (event.action, event.actor, event.note) == ("qualify", cast.marketer, "Asked for pricing")
    assert response.redirect_chain[-1][0] == page
    assert f"Qualified {lead}" in response.text


def test_qualifying_a_lead_twice_says_why_and_writes_nothing(cast, browser, qualified):
    response = browser("marketer").post(reverse("lead_qualify", args=[qualified.lead_id]), follow=True)

    assert "already has an open handoff" in response.text
    assert Handoff.objects.filter(lead=qualified.lead).count() == 1
    assert HandoffEvent.objects.filter(lead=qualified.lead).count() == 1


def test_only_a_marketer_may_qualify(cast, browser, lead):
    response = browser("rep").post(reverse("lead_qualify", args=[lead.pk]))
    assert response.status_code == 403
    assert not Handoff.objects.exists()


def test_qualify_is_post_only(cast, browser, lead):
    assert browser("marketer").get(reverse("lead_qualify", args=[lead.pk])).status_code == 405


def test_rejected_page_offers_dispute_and_recycle(cast, browser, qualified):
    handoff_reject(handoff=qualified, actor=cast.actor("rep"), reason="student")

    text = browser("marketer").get(reverse("rejected_handoffs")).text

    assert str(qualified.lead) in text
    assert "Student" in text
    assert reverse("handoff_action", args=[qualified.pk, "dispute"]) in text
    assert reverse("handoff_action", args=[qualified.pk, "recycle"]) in text


def test_marketer_disputes_a_rejection(cast, browser, qualified):
    handoff_reject(handoff=qualified, actor=cast.actor("rep"), reason="student")
    page = reverse("rejected_handoffs")

    response = browser("marketer").post(
        reverse("handoff_action", args=[qualified.pk, "dispute"]),
        {"reason": "meets_definition", "note": "Score 90, VP title", "next": page},
        follow=True,
    )

    qualified.refresh_from_db()
    assert qualified.state == HandoffState.DISPUTED
    assert qualified.dispute_reason.code == "meets_definition"
    assert qualified.dispute_note == "Score 90, VP title"
    assert response.redirect_chain[-1][0] == page
    assert f"Disputed the rejection of {qualified.lead}" in response.text


def test_marketer_recycles_a_rejected_lead(cast, browser, qualified):
    handoff_reject(handoff=qualified, actor=cast.actor("rep"), reason="student")

    response = browser("marketer").post(
        reverse("handoff_action", args=[qualified.pk, "recycle"]), {"reason": "nurture"}, follow=True
    )

    qualified.refresh_from_db()
    assert qualified.state == HandoffState.RECYCLED
    assert qualified.reason.code == "nurture"
    assert f"Recycled {qualified.lead} to nurture" in response.text


def test_dispute_with_other_needs_a_note_shown_next_to_the_field(cast, browser, qualified):
    handoff_reject(handoff=qualified, actor=cast.actor("rep"), reason="student")

    response = browser("marketer").post(
        reverse("handoff_action", args=[qualified.pk, "dispute"]), {"reason": "other", "note": " "}
    )

    assert response.status_code == 400
    assert 'id="id_note_error"' in response.text
    assert "needs a note" in response.text
    qualified.refresh_from_db()
    assert qualified.state == HandoffState.REJECTED


def test_a_marketer_qualifies_ticked_leads_in_bulk_with_one_note(cast, browser):
    first, second = make_lead(owner=cast.rep), make_lead(owner=cast.rep)
    untouched = make_lead(owner=cast.rep)

    response = browser("marketer").post(
        reverse("leads_to_qualify"), {"leads": [first.pk, second.pk], "note": "Webinar attendees"}, follow=True
    )

    handoffs = Handoff.objects.filter(state=HandoffState.QUALIFIED)
    assert sorted(handoffs.values_list("lead", flat=True)) == sorted([first.pk, second.pk])
    assert set(handoffs.values_list("note", "owner")) == {("Webinar attendees", cast.rep.pk)}
    assert HandoffEvent.objects.filter(action="qualify", actor=cast.marketer).count() == 2
    assert not Handoff.objects.filter(lead=untouched).exists()
    assert "Qualified 2 leads" in response.text


def test_bulk_qualify_of_a_lead_no_longer_waiting_qualifies_none(cast, browser, qualified):
    waiting = make_lead(owner=cast.rep)

    response = browser("marketer").post(reverse("leads_to_qualify"), {"leads": [waiting.pk, qualified.lead_id]})

    assert response.status_code == 400
    assert "no longer waiting to be qualified" in response.text
    assert not Handoff.objects.filter(lead=waiting).exists()


def test_bulk_qualify_with_nothing_ticked_says_to_tick_the_leads_first(cast, browser):
    make_lead(owner=cast.rep)

    response = browser("marketer").post(reverse("leads_to_qualify"), {"note": "x"})

    assert response.status_code == 400
    assert "Tick the leads first." in response.text
    assert not Handoff.objects.exists()


def test_leads_to_qualify_has_one_form_for_its_one_click_buttons_not_one_per_row(cast, browser):
    for _ in range(7):
        make_lead(owner=cast.rep)

    text = browser("marketer").get(reverse("leads_to_qualify")).text

    assert text.count("<form") == 4  # sign out, search, bulk, the one-click qualify
    assert text.count('form="row-action"') == 7
