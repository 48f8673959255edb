"""The rep's page: accept, reject with a reason, bulk reject, touch, convert, recycle; nothing on others' leads."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from handoff.models import Handoff, HandoffEvent, HandoffState, Touch
from handoff.services.handoffs import handoff_accept, handoff_qualify
from tests.factories import make_lead

pytestmark = pytest.mark.django_db


def qualify(cast, **fields) -> Handoff:
    return handoff_qualify(lead=make_lead(owner=cast.rep, **fields), actor=cast.actor("marketer"))


def events(handoff: Handoff) -> list[str]:
    return list(HandoffEvent.objects.filter(handoff=handoff).values_list("action", flat=True))


def test_my_handoffs_lists_the_reps_open_handoffs_most_urgent_first_with_their_actions(cast, browser):
    from datetime import timedelta

    from django.utils import timezone

    from handoff.models import Milestone

    # Qualified in an order that is neither the urgency order nor its reverse. "Older" is a standard lead (score
    # under 80): its next deadline is the first touch, two business hours out; "Hot" has 15 minutes to accept.
    older = qualify(cast, first_name="Older", company="Acme", lead_source="Webinar", score=61)
    hot = qualify(cast, first_name="Hot", lead_source="Demo Request")
    long_overdue = qualify(cast, first_name="Longest")
    Milestone.objects.filter(handoff=long_overdue).update(due_at=timezone.now() - timedelta(hours=3))
    overdue = qualify(cast, first_name="Overdue")
    Milestone.objects.filter(handoff=overdue).update(due_at=timezone.now() - timedelta(hours=1))
    no_clock = qualify(cast, first_name="Clockless")
    Milestone.objects.filter(handoff=no_clock).update(met_at=timezone.now())
    theirs = handoff_qualify(lead=make_lead(owner=cast.other_rep, first_name="Theirs"), actor=cast.actor("marketer"))

    text = browser("rep").get(reverse("my_handoffs")).text

    # The most overdue first, then the soonest deadline, the handoffs with no clock running last.
    order = [text.index(str(h.lead)) for h in (long_overdue, overdue, hot, older, no_clock)]
    assert order == sorted(order)
    assert "breached 3 h" in text and "breached 1 h" in text
    assert str(theirs.lead) not in text
    for shown in ("Acme", "Webinar", "61", "Qualified"):
        assert shown in text
    assert reverse("handoff_action", args=[older.pk, "accept"]) in text
    assert reverse("handoff_action", args=[older.pk, "reject"]) in text
    assert reverse("handoff_action", args=[older.pk, "touch"]) not in text


def test_rep_accepts(cast, browser, qualified):
    page = reverse("my_handoffs")
    response = browser("rep").post(
        reverse("handoff_action", args=[qualified.pk, "accept"]), {"next": page}, follow=True
    )

    qualified.refresh_from_db()
    assert qualified.state == HandoffState.ACCEPTED
    assert qualified.accepted_at is not None
    assert events(qualified) == ["qualify", "accept"]
    assert response.redirect_chain[-1][0] == page
    assert f"Accepted {qualified.lead}." in response.text


def test_reject_without_a_reason_shows_the_error_at_the_field_and_writes_nothing(cast, browser, qualified):
    response = browser("rep").post(reverse("handoff_action", args=[qualified.pk, "reject"]), {"note": "meh"})

    assert response.status_code == 400
    assert 'id="id_reason_error"' in response.text
    assert "Choose a reason." in response.text
    qualified.refresh_from_db()
    assert qualified.state == HandoffState.QUALIFIED
    assert events(qualified) == ["qualify"]


def test_reject_with_other_and_no_note_is_refused_by_the_service(cast, browser, qualified):
    response = browser("rep").post(reverse("handoff_action", args=[qualified.pk, "reject"]), {"reason": "other"})

    assert response.status_code == 400
    assert 'id="id_note_error"' in response.text
    assert "needs a note that explains it" in response.text
    assert '<option value="other" selected data-requires-note="true">' in response.text
    qualified.refresh_from_db()
    assert qualified.state == HandoffState.QUALIFIED
    assert events(qualified) == ["qualify"]


def test_rep_rejects_with_a_reason(cast, browser, qualified):
    response = browser("rep").post(
        reverse("handoff_action", args=[qualified.pk, "reject"]),
        {"reason": "wrong_region", "note": "APAC only", "next": reverse("my_handoffs")},
        follow=True,
    )

    qualified.refresh_from_db()
    assert qualified.state == HandoffState.REJECTED
    assert (qualified.reason.code, qualified.note) == ("wrong_region", "APAC only")
    event = HandoffEvent.objects.get(handoff=qualified, action="reject")
    assert (event.actor, event.reason.code) == (cast.rep, "wrong_region")
    assert f"Rejected {qualified.lead}: Wrong region." in response.text


def test_the_reject_form_page_lists_reject_reasons_only(cast, browser, qualified):
    text = browser("rep").get(reverse("handoff_action", args=[qualified.pk, "reject"])).text
    assert "Wrong persona" in text
    assert "Needs nurturing" not in text


def test_bulk_reject_rejects_every_ticked_lead_with_one_reason(cast, browser):
    first, second, untouched = qualify(cast), qualify(cast), qualify(cast)

    response = browser("rep").post(
        reverse("my_handoffs"), {"handoffs": [first.pk, second.pk], "reason": "duplicate"}, follow=True
    )

    states = dict(Handoff.objects.values_list("pk", "state"))
    assert states == {first.pk: "rejected", second.pk: "rejected", untouched.pk: "qualified"}
    assert HandoffEvent.objects.filter(action="reject", reason__code="duplicate").count() == 2
    assert "Rejected 2 leads" in response.text
    assert str(first.lead) in response.text.split("Rejected 2 leads")[1]


def test_bulk_reject_is_all_or_nothing_and_names_the_lead_that_blocked_it(cast, browser):
    fresh = qualify(cast)
    accepted = qualify(cast, first_name="Already", last_name="Accepted")
    handoff_accept(handoff=accepted, actor=cast.actor("rep"))

    response = browser("rep").post(reverse("my_handoffs"), {"handoffs": [fresh.pk, accepted.pk], "reason": "student"})

    assert response.status_code == 409
    assert "Nothing was rejected" in response.text
    assert "Already Accepted" in response.text
    assert dict(Handoff.objects.values_list("pk", "state")) == {fresh.pk: "qualified", accepted.pk: "accepted"}
    assert not HandoffEvent.objects.filter(action="reject").exists()


def test_bulk_reject_without_a_reason_writes_nothing(cast, browser, qualified):
    response = browser("rep").post(reverse("my_handoffs"), {"handoffs": [qualified.pk]})

    assert response.status_code == 400
    assert "Choose a reason." in response.text
    qualified.refresh_from_db()
    assert qualified.state == HandoffState.QUALIFIED


def test_bulk_reject_of_another_reps_handoff_is_refused(cast, browser):
    theirs = handoff_qualify(lead=make_lead(owner=cast.other_rep), actor=cast.actor("marketer"))

    response = browser("rep").post(reverse("my_handoffs"), {"handoffs": [theirs.pk], "reason": "student"})

    assert response.status_code == 400
    assert "no longer yours" in response.text
    theirs.refresh_from_db()
    assert theirs.state == HandoffState.QUALIFIED


def test_rep_logs_a_touch(cast, browser, qualified):
    handoff_accept(handoff=qualified, actor=cast.actor("rep"))

    response = browser("rep").post(
        reverse("handoff_action", args=[qualified.pk, "touch"]),
        {"kind": "call", "outcome": "connected", "note": "Booked a demo"},
        follow=True,
    )

    touch = Touch.objects.get(handoff=qualified)
    assert (touch.kind, touch.outcome, touch.by, touch.note) == ("call", "connected", cast.rep, "Booked a demo")
    qualified.refresh_from_db()
    assert qualified.first_touch_at == touch.at
    assert qualified.first_connect_at == touch.at
    assert events(qualified)[-1] == "touch"
    assert f"Logged a call (connected) with {qualified.lead}." in response.text


def test_a_touch_of_an_unknown_kind_is_refused_at_the_field(cast, browser, qualified):
    handoff_accept(handoff=qualified, actor=cast.actor("rep"))

    response = browser("rep").post(
        reverse("handoff_action", args=[qualified.pk, "touch"]), {"kind": "fax", "outcome": "attempt"}
    )

    assert response.status_code == 400
    assert 'id="id_kind_error"' in response.text
    assert not Touch.objects.exists()


def test_rep_converts_an_accepted_lead(cast, browser, qualified):
    handoff_accept(handoff=qualified, actor=cast.actor("rep"))

    response = browser("rep").post(reverse("handoff_action", args=[qualified.pk, "convert"]), follow=True)

    qualified.refresh_from_db()
    assert qualified.state == HandoffState.CONVERTED
    assert f"Converted {qualified.lead}." in response.text


def test_rep_recycles_an_accepted_lead_with_a_reason(cast, browser, qualified):
    handoff_accept(handoff=qualified, actor=cast.actor("rep"))

    browser("rep").post(reverse("handoff_action", args=[qualified.pk, "recycle"]), {"reason": "no_response"})

    qualified.refresh_from_db()
    assert (qualified.state, qualified.reason.code) == (HandoffState.RECYCLED, "no_response")


def test_converting_a_lead_not_yet_accepted_says_why_and_writes_nothing(cast, browser, qualified):
    response = browser("rep").post(reverse("handoff_action", args=[qualified.pk, "convert"]), follow=True)

    assert "convert applies only when it is accepted" in response.text
    qualified.refresh_from_db()
    assert qualified.state == HandoffState.QUALIFIED
    assert events(qualified) == ["qualify"]


@pytest.mark.parametrize("action", ["accept", "reject", "convert", "recycle", "touch"])
def test_another_rep_cannot_act_on_the_reps_handoff(cast, browser, qualified, action):
    data = {"reason": "student", "kind": "call", "outcome": "attempt"}

    response = browser("other_rep").post(reverse("handoff_action", args=[qualified.pk, action]), data)

    assert response.status_code == 404
    qualified.refresh_from_db()
    assert qualified.state == HandoffState.QUALIFIED
    assert events(qualified) == ["qualify"]


def test_a_marketer_who_can_see_the_handoff_still_may_not_accept_it(cast, browser, qualified):
    response = browser("marketer").post(reverse("handoff_action", args=[qualified.pk, "accept"]), follow=True)

    assert "You may not accept" in response.text
    qualified.refresh_from_db()
    assert qualified.state == HandoffState.QUALIFIED


def test_an_unknown_action_is_not_found(cast, browser, qualified):
    assert browser("rep").post(reverse("handoff_action", args=[qualified.pk, "explode"])).status_code == 404


def test_next_pointing_off_site_is_ignored(cast, browser, qualified):
    response = browser("rep").post(
        reverse("handoff_action", args=[qualified.pk, "accept"]), {"next": "https://evil.example/"}
    )
    assert response.url == reverse("lead_detail", args=[qualified.lead_id])


def test_my_handoffs_costs_the_same_queries_for_three_rows_or_thirty(cast, browser, django_assert_max_num_queries):
    client = browser("rep")
    for _ in range(3):
        qualify(cast)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("my_handoffs"))
    for _ in range(27):
        qualify(cast)

    with django_assert_max_num_queries(len(few)):
        text = client.get(reverse("my_handoffs")).text

    assert text.count('name="handoffs"') == 30
