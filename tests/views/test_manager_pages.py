"""The manager's pages: the team's handoffs with filters, and resolving disputes (uphold or overturn)."""
from __future__ import annotations

import pytest
from django.urls import reverse

from handoff.models import HandoffEvent, HandoffState
from handoff.services.handoffs import handoff_accept, handoff_dispute, handoff_qualify, handoff_reject
from tests.factories import make_lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def disputed(cast, qualified):
    handoff_reject(handoff=qualified, actor=cast.actor("rep"), reason="student", note="Uni address")
    return handoff_dispute(handoff=qualified, actor=cast.actor("marketer"), reason="meets_definition", note="Score 90")


def test_team_page_shows_the_teams_handoffs_not_other_teams(cast, browser, qualified):
    theirs = handoff_qualify(lead=make_lead(owner=cast.other_rep, first_name="Other"), actor=cast.actor("marketer"))

    text = browser("manager").get(reverse("team_handoffs")).text

    assert str(qualified.lead) in text
    assert str(theirs.lead) not in text


def test_team_page_filters_by_state_and_rep(cast, browser, qualified):
    accepted = handoff_qualify(lead=make_lead(owner=cast.rep, first_name="Taken"), actor=cast.actor("marketer"))
    handoff_accept(handoff=accepted, actor=cast.actor("rep"))
    client = browser("manager")

    by_state = client.get(reverse("team_handoffs"), {"state": "accepted"}).text
    by_rep = client.get(reverse("team_handoffs"), {"rep": cast.rep.pk, "state": "qualified"}).text

    assert str(accepted.lead) in by_state
    assert str(qualified.lead) not in by_state
    assert str(qualified.lead) in by_rep
    assert str(accepted.lead) not in by_rep


def test_disputes_page_shows_both_sides(cast, browser, disputed):
    text = browser("manager").get(reverse("disputes")).text

    for shown in (str(disputed.lead), "Student", "Uni address", "Meets the agreed lead definition", "Score 90"):
        assert shown in text
    assert reverse("handoff_action", args=[disputed.pk, "resolve"]) in text


def test_another_teams_manager_does_not_see_the_dispute(cast, browser, disputed):
    assert str(disputed.lead) not in browser("other_manager").get(reverse("disputes")).text


def test_manager_upholds_a_rejection(cast, browser, disputed):
    page = reverse("disputes")
    response = browser("manager").post(
        reverse("handoff_action", args=[disputed.pk, "resolve"]),
        {"decision": "uphold", "note": "Students are out", "next": page},
        follow=True,
    )

    disputed.refresh_from_db()
    assert disputed.state == HandoffState.REJECTED
    assert disputed.resolved_at is not None
    event = HandoffEvent.objects.get(handoff=disputed, action="resolve")
    assert (event.actor, event.data, event.note) == (cast.manager, {"decision": "uphold"}, "Students are out")
    assert response.redirect_chain[-1][0] == page
    assert f"Upheld the rejection of {disputed.lead}." in response.text


def test_manager_overturns_a_rejection(cast, browser, disputed):
    response = browser("manager").post(
        reverse("handoff_action", args=[disputed.pk, "resolve"]), {"decision": "overturn"}, follow=True
    )

    disputed.refresh_from_db()
    assert disputed.state == HandoffState.QUALIFIED
    assert disputed.reason is None
    assert HandoffEvent.objects.get(handoff=disputed, action="resolve").data == {"decision": "overturn"}
    assert f"Overturned the rejection of {disputed.lead}" in response.text


def test_resolving_without_a_decision_is_refused_at_the_field(cast, browser, disputed):
    response = browser("manager").post(reverse("handoff_action", args=[disputed.pk, "resolve"]), {"note": "hm"})

    assert response.status_code == 400
    assert 'id="id_decision_error"' in response.text
    disputed.refresh_from_db()
    assert disputed.state == HandoffState.DISPUTED


def test_another_teams_manager_cannot_resolve(cast, browser, disputed):
    response = browser("other_manager").post(
        reverse("handoff_action", args=[disputed.pk, "resolve"]), {"decision": "overturn"}
    )

    assert response.status_code == 404
    disputed.refresh_from_db()
    assert disputed.state == HandoffState.DISPUTED
