"""A marketer's "My MQLs": what they qualified and disputed, where each stands, who has it, its clock and outcome;
and every success message links to the lead."""
from __future__ import annotations

import pytest
from django.urls import reverse

from handoff.models import Role
from handoff.services.actors import Actor
from handoff.services.handoffs import (
    Decision,
    handoff_accept,
    handoff_dispute,
    handoff_qualify,
    handoff_reject,
    handoff_resolve,
)
from tests.factories import make_lead, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def mqls(cast):
    """Three leads the marketer qualified (waiting, accepted, rejected and disputed), one another marketer qualified
    and the marketer disputed, one another marketer qualified and nobody disputed."""
    colleague = Actor.person(make_user("carl.colleague", Role.MARKETER))
    me, rep = cast.actor("marketer"), cast.actor("rep")

    def qualify(name, by=me):
        return handoff_qualify(lead=make_lead(owner=cast.rep, first_name=name, last_name="Lead"), actor=by)

    waiting = qualify("Wendy")
    accepted = handoff_accept(handoff=qualify("Abe"), actor=rep)
    disputed = handoff_dispute(handoff=handoff_reject(handoff=qualify("Dora"), actor=rep, reason="student"),
                               actor=me, reason="meets_definition")
    theirs = handoff_reject(handoff=qualify("Theo", by=colleague), actor=rep, reason="wrong_region")
    handoff_dispute(handoff=theirs, actor=me, reason="meets_definition")
    handoff_resolve(handoff=theirs, actor=cast.actor("manager"), decision=Decision.UPHOLD)
    qualify("Nina", by=colleague)
    return {"waiting": waiting, "accepted": accepted, "disputed": disputed, "theirs": theirs}


def rows(text: str) -> list[str]:
    body = text.split("<tbody>")[1].split("</tbody>")[0]
    return body.split("<tr")[1:]


def test_my_mqls_lists_what_i_qualified_and_disputed_with_state_owner_clock_and_outcome(cast, browser, mqls):
    text = browser("marketer").get(reverse("my_mqls")).text

    listed = rows(text)
    assert len(listed) == 4 and "Nina Lead" not in text
    by_name = {name: next(r for r in listed if f"{name} Lead" in r) for name in ("Wendy", "Abe", "Dora", "Theo")}
    assert "Waiting for the rep to accept" in by_name["Wendy"] and "business time left" in by_name["Wendy"]
    assert "Accepted" in by_name["Abe"] and "no touch yet" in by_name["Abe"]
    assert "Disputed" in by_name["Dora"] and "a manager decides" in by_name["Dora"]
    assert "Rejected" in by_name["Theo"] and "dispute upheld" in by_name["Theo"] and "disputed by me" in by_name["Theo"]
    assert all("rita.rep" in row for row in listed)
    assert f'href="{reverse("lead_detail", args=[mqls["waiting"].lead_id])}"' in by_name["Wendy"]


@pytest.mark.parametrize(("query", "expected"), [
    ({"mine": "disputed"}, {"Dora", "Theo"}),
    ({"mine": "qualified"}, {"Wendy", "Abe", "Dora"}),
    ({"state": "accepted"}, {"Abe"}),
    ({"q": "wendy"}, {"Wendy"}),
])
def test_my_mqls_filter_by_involvement_state_and_search(browser, mqls, query, expected):
    text = browser("marketer").get(reverse("my_mqls"), query).text
    names = {name for name in ("Wendy", "Abe", "Dora", "Theo") if f"{name} Lead" in text}
    assert names == expected


def test_my_mqls_is_for_marketers_and_in_their_menu(browser):
    assert browser("rep").get(reverse("my_mqls")).status_code == 403
    assert f'href="{reverse("my_mqls")}"' in browser("marketer").get(reverse("leads_to_qualify")).text


def test_a_success_message_links_to_the_lead(cast, browser, lead):
    client = browser("marketer")

    response = client.post(reverse("lead_qualify", args=[lead.pk]), follow=True)

    link = f'<a href="{reverse("lead_detail", args=[lead.pk])}">Open the lead</a>'
    assert "Qualified" in response.text and link in response.text
    handoff = lead.handoffs.get()
    response = browser("rep").post(reverse("handoff_action", args=[handoff.pk, "accept"]), follow=True)
    assert "Accepted" in response.text and link in response.text
