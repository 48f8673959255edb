"""A lead's page: its fields, the current handoff's actions, every episode, the full history and touches."""
from __future__ import annotations

import pytest
from django.urls import reverse

from handoff.services.handoffs import (
    handoff_accept,
    handoff_qualify,
    handoff_recycle,
    handoff_reject,
    handoff_touch,
    leads_qualify_by_rule,
)
from tests.factories import make_lead

pytestmark = pytest.mark.django_db


def test_lead_page_shows_every_handoff_and_the_full_history(cast, browser, lead):
    first = handoff_qualify(lead=lead, actor=cast.actor("marketer"), note="Demo request")
    handoff_reject(handoff=first, actor=cast.actor("rep"), reason="other", note="Wrong department")
    handoff_recycle(handoff=first, actor=cast.actor("marketer"), reason="nurture")
    second = handoff_qualify(lead=lead, actor=cast.actor("marketer"))
    handoff_accept(handoff=second, actor=cast.actor("rep"))
    handoff_touch(handoff=second, actor=cast.actor("rep"), kind="meeting", outcome="connected", note="Intro call")

    text = browser("rep").get(reverse("lead_detail", args=[lead.pk])).text

    assert lead.email in text and lead.crm_id in text
    history = text.split("<h2>History</h2>")[1].split("<h2>Touches</h2>")[0]
    positions = [history.index(f"<strong>{a}</strong>") for a in ("qualify", "reject", "recycle", "accept", "touch")]
    assert positions == sorted(positions), "the history reads oldest first"
    for shown in ("mark.marketer", "rita.rep", "rejected → recycled", "Wrong department", "Needs nurturing",
                  "Demo request", "meeting, connected", "v1"):
        assert shown in history
    touches = text.split("<h2>Touches</h2>")[1]
    assert "Meeting" in touches and "Intro call" in touches
    handoffs = text.split("<h2>Handoffs</h2>")[1].split("<h2>History</h2>")[0]
    assert "<td>1</td>" in handoffs and "<td>2</td>" in handoffs
    assert reverse("handoff_action", args=[second.pk, "touch"]) in text
    assert reverse("handoff_action", args=[first.pk, "touch"]) not in text


def test_the_rule_is_named_as_the_actor(cast, browser):
    lead = make_lead(owner=cast.rep, score=95)

    leads_qualify_by_rule(lead_ids=[lead.pk])
    text = browser("rep").get(reverse("lead_detail", args=[lead.pk])).text

    assert "Lead definition rule" in text.split("<h2>History</h2>")[1]


def test_a_marketer_can_qualify_from_the_lead_page(cast, browser, lead):
    text = browser("marketer").get(reverse("lead_detail", args=[lead.pk])).text
    assert reverse("lead_qualify", args=[lead.pk]) in text
    assert "Never qualified." in text


def test_a_lead_the_reader_may_not_see_is_not_found(cast, browser, lead):
    assert browser("other_rep").get(reverse("lead_detail", args=[lead.pk])).status_code == 404
    assert browser("other_manager").get(reverse("lead_detail", args=[lead.pk])).status_code == 404
    assert browser("manager").get(reverse("lead_detail", args=[lead.pk])).status_code == 200


def _lead_with_everything(cast):
    """A lead handed over twice: accepted, touched and recycled; then rejected, disputed and the rejection overturned,
    its clocks running again."""
    from handoff.services.handoffs import Decision, handoff_dispute, handoff_resolve

    lead = make_lead(owner=cast.rep)
    first = handoff_qualify(lead=lead, actor=cast.actor("marketer"), note="Asked for a demo")
    handoff_accept(handoff=first, actor=cast.actor("rep"))
    handoff_touch(handoff=first, actor=cast.actor("rep"), kind="call", outcome="attempt", note="Voicemail")
    handoff_touch(handoff=first, actor=cast.actor("rep"), kind="email", outcome="connected", note="Replied")
    handoff_recycle(handoff=first, actor=cast.actor("rep"), reason="timing")
    second = handoff_qualify(lead=lead, actor=cast.actor("marketer"))
    handoff_reject(handoff=second, actor=cast.actor("rep"), reason="student", note="Looks like a student")
    handoff_dispute(handoff=second, actor=cast.actor("marketer"), reason="meets_definition", note="Has budget")
    handoff_resolve(handoff=second, actor=cast.actor("manager"), decision=Decision.OVERTURN, note="Call them")
    return lead


@pytest.mark.parametrize("reader", ["rep", "manager", "marketer"])
def test_the_lead_page_costs_the_same_queries_whatever_the_lead_has_been_through(cast, browser, reader):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    plain = make_lead(owner=cast.rep)
    handoff_qualify(lead=plain, actor=cast.actor("marketer"))
    full = _lead_with_everything(cast)
    client = browser(reader)

    def queries(lead) -> int:
        client.get(reverse("lead_detail", args=[lead.pk]))  # what the process and the connection keep, kept
        with CaptureQueriesContext(connection) as log:
            page = client.get(reverse("lead_detail", args=[lead.pk]))
        assert page.status_code == 200
        return len(log.captured_queries)

    assert queries(full) == queries(plain)
    text = client.get(reverse("lead_detail", args=[full.pk])).text
    # What the trimmed reads leave out is not what the page shows: the people, the reasons, the versions.
    assert "Voicemail" in text and "rita.rep" in text and "Looks like a student" in text and "was overturned" in text
    assert "Bad timing, revisit later" in text and "Student" in text


def test_a_queued_lead_shows_to_the_manager_and_not_to_a_rep(cast, browser):
    queued = make_lead(owner=None)
    assert browser("manager").get(reverse("lead_detail", args=[queued.pk])).status_code == 200
    assert browser("rep").get(reverse("lead_detail", args=[queued.pk])).status_code == 404
    assert browser("marketer").get(reverse("lead_detail", args=[2**40])).status_code == 404
