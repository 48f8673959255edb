"""What a rep needs on a lead's page: the phone numbers, a touch logged after the fact, the current state in plain
words after an overturn, notes always on the reject and dispute forms, and the manager's pause, resume and assign."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from handoff.models import HandoffEvent, Milestone, Touch
from handoff.services.handoffs import (
    Decision,
    handoff_accept,
    handoff_dispute,
    handoff_pause,
    handoff_qualify,
    handoff_reject,
    handoff_resolve,
)
from tests.factories import make_lead

pytestmark = pytest.mark.django_db
MONDAY_NOON = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)


@pytest.fixture
def noon(time_machine):
    time_machine.move_to(MONDAY_NOON, tick=False)
    return MONDAY_NOON


def page(client, handoff) -> str:
    return client.get(reverse("lead_detail", args=[handoff.lead_id])).text


def test_the_lead_page_shows_phone_and_mobile_as_links_to_call(cast, browser):
    lead = make_lead(owner=cast.rep, phone="+1 212 555 0100", mobile_phone="+1 917 555 0199")

    text = browser("rep").get(reverse("lead_detail", args=[lead.pk])).text

    assert '<a href="tel:+12125550100">+1 212 555 0100</a>' in text
    assert '<a href="tel:+19175550199">+1 917 555 0199</a>' in text
    assert "Call +1 212 555 0100" in text  # at the top of the page, one tap away on a phone


def test_a_touch_is_logged_after_the_fact_at_the_time_given_in_the_readers_zone(
    noon, cast, browser, qualified, time_machine
):
    handoff_accept(handoff=qualified, actor=cast.actor("rep"))
    later = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)
    time_machine.move_to(later, tick=False)
    client = browser("rep")
    assert 'type="datetime-local" name="at"' in page(client, qualified)

    response = client.post(
        reverse("handoff_action", args=[qualified.pk, "touch"]),
        {"kind": "call", "outcome": "connected", "at": "2026-03-09T13:20"},
        follow=True,
    )

    touch = Touch.objects.get(handoff=qualified)
    assert (touch.at, touch.logged_at) == (datetime(2026, 3, 9, 13, 20, tzinfo=UTC), later)
    assert "made Mar 9, 13:20 UTC" in response.text


def test_a_touch_in_the_future_is_refused_at_its_field_and_nothing_is_written(noon, cast, browser, qualified):
    handoff_accept(handoff=qualified, actor=cast.actor("rep"))

    response = browser("rep").post(
        reverse("handoff_action", args=[qualified.pk, "touch"]),
        {"kind": "call", "outcome": "attempt", "at": "2026-03-09T13:00"},
    )

    assert response.status_code == 400
    assert "A touch cannot be logged in the future." in response.text and 'id="id_at_error"' in response.text
    assert not Touch.objects.exists()


def test_after_an_overturn_the_page_says_where_the_lead_stands_now(cast, browser, qualified):
    handoff_reject(handoff=qualified, actor=cast.actor("rep"), reason="student", note="Looks like a student")
    handoff_dispute(handoff=qualified, actor=cast.actor("marketer"), reason="meets_definition", note="Has budget")
    handoff_resolve(handoff=qualified, actor=cast.actor("manager"), decision=Decision.OVERTURN, note="Call them")

    text = page(browser("rep"), qualified)

    assert "Disputed by marketing" not in text and "Disputed:" not in text
    assert "<strong>Now:</strong> Waiting for the rep to accept" in " ".join(text.split())
    assert "was overturned" in text and "mia.manager" in text and "“Call them”" in text
    assert "with fresh SLA clocks" in text


def test_the_reject_and_dispute_notes_are_always_on_the_forms(cast, browser, qualified):
    text = page(browser("rep"), qualified)
    reject = text.split(f'action="{reverse("handoff_action", args=[qualified.pk, "reject"])}"')[1].split("</form>")[0]
    assert "data-note data-keep" in reject and 'name="note"' in reject

    form = browser("rep").get(reverse("handoff_action", args=[qualified.pk, "reject"])).text
    assert "data-note data-keep" in form and "Other — note required" in form


def test_a_reason_that_needs_a_note_is_refused_without_one_at_the_note(cast, browser, qualified):
    response = browser("rep").post(reverse("handoff_action", args=[qualified.pk, "reject"]), {"reason": "other"})

    assert response.status_code == 400 and 'id="id_note_error"' in response.text
    qualified.refresh_from_db()
    assert qualified.state == "qualified"


def test_the_manager_pauses_and_resumes_the_clocks_with_a_reason_kept_in_the_history(cast, browser, qualified):
    client = browser("manager")
    pause = reverse("handoff_action", args=[qualified.pk, "pause"])
    assert f'href="{pause}?next=' in page(client, qualified)

    refused = client.post(pause, {"note": ""})
    assert refused.status_code == 400 and "Say why" in refused.text
    client.post(pause, {"note": "Customer on holiday until the 20th"})

    assert Milestone.objects.filter(handoff=qualified, paused_at__isnull=False).exists()
    text = page(client, qualified)
    assert "The SLA clocks are paused: “Customer on holiday until the 20th”" in text
    resume = reverse("handoff_action", args=[qualified.pk, "resume"])
    assert f'href="{resume}?next=' in text
    client.post(resume, {"note": "Back early"})
    assert not Milestone.objects.filter(handoff=qualified, paused_at__isnull=False).exists()
    notes = list(HandoffEvent.objects.filter(handoff=qualified, action__in=["pause", "resume"]).values_list("note"))
    assert notes == [("Customer on holiday until the 20th",), ("Back early",)]


def test_pause_is_not_offered_to_marketing_and_resume_only_once_paused(cast, browser, qualified):
    assert "/pause/" not in page(browser("marketer"), qualified)
    assert "/resume/" not in page(browser("manager"), qualified)
    handoff_pause(handoff=qualified, actor=cast.actor("manager"), note="Away")
    text = page(browser("manager"), qualified)
    assert "/resume/" in text and "/pause/" not in text


def test_a_manager_assigns_a_queue_lead_from_its_page(cast, browser):
    queued = handoff_qualify(lead=make_lead(owner=None), actor=cast.actor("marketer"))
    client = browser("manager")
    text = page(client, queued)
    assert f'href="{reverse("handoff_action", args=[queued.pk, "reassign"])}?next=' in text
    assert "Assign to a rep" in text

    client.post(reverse("handoff_action", args=[queued.pk, "reassign"]), {"owner": cast.rep.pk})

    queued.refresh_from_db()
    assert queued.owner == cast.rep
    assert "Reassign" in page(client, queued)
