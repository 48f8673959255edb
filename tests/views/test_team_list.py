"""The manager's team page as a worklist: each handoff's next deadline, a breached filter, and assigning queue leads
(or reassigning the team's) to a rep, one at a time or ticked in bulk."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from handoff.models import Handoff, HandoffEvent, Milestone, Role
from handoff.services.handoffs import handoff_qualify
from handoff.views import common
from tests.factories import make_lead, make_user

pytestmark = pytest.mark.django_db
PAGE = reverse("team_handoffs")


def handed(cast, owner=None, **fields) -> Handoff:
    return handoff_qualify(lead=make_lead(owner=owner, **fields), actor=cast.actor("marketer"))


def test_each_row_shows_its_next_deadline_and_overdue_ones_say_so(cast, browser):
    late = handed(cast, cast.rep, first_name="Late", last_name="Lead")
    Milestone.objects.filter(handoff=late).update(due_at=timezone.now() - timedelta(hours=2, minutes=1))
    handed(cast, cast.rep, first_name="Fresh", last_name="Lead", score=40, lead_source="Web")

    text = browser("manager").get(PAGE).text

    assert "Next deadline" in text
    assert "<strong>Overdue</strong> · breached 2 h" in text
    assert "of business time left" in text


def test_the_breached_filter_shows_handoffs_with_a_breached_clock_only(cast, browser):
    late = handed(cast, cast.rep, first_name="Breached", last_name="Once")
    Milestone.objects.filter(handoff=late).update(breached_at=timezone.now())
    handed(cast, cast.rep, first_name="Kept", last_name="Time")
    client = browser("manager")

    breached = client.get(PAGE, {"breached": "yes"}).text
    not_breached = client.get(PAGE, {"breached": "no"}).text

    assert "Breached Once" in breached and "Kept Time" not in breached
    assert "Kept Time" in not_breached and "Breached Once" not in not_breached


def test_the_queue_filter_lists_handoffs_nobody_owns(cast, browser):
    handed(cast, None, first_name="In", last_name="Queue")
    handed(cast, cast.rep, first_name="Has", last_name="Owner")

    text = browser("manager").get(PAGE, {"rep": "queue"}).text

    assert "In Queue" in text and "Has Owner" not in text


def test_a_manager_assigns_ticked_queue_leads_to_a_rep_of_theirs_in_bulk(cast, browser):
    first, second = handed(cast, None), handed(cast, None)
    untouched = handed(cast, None)

    response = browser("manager").post(
        PAGE, {"handoffs": [first.pk, second.pk], "owner": cast.rep.pk, "note": "Yours"}, follow=True
    )

    owners = dict(Handoff.objects.values_list("pk", "owner"))
    assert owners == {first.pk: cast.rep.pk, second.pk: cast.rep.pk, untouched.pk: None}
    events = HandoffEvent.objects.filter(action="reassign")
    assert sorted(events.values_list("handoff", flat=True)) == sorted([first.pk, second.pk])
    assert {(e.actor, e.note, e.data["owner"]) for e in events} == {(cast.manager, "Yours", cast.rep.username)}
    assert "Assigned 2 leads" in response.text and f"to {cast.rep.username}." in response.text


def test_a_manager_gives_a_reps_lead_back_to_the_queue(cast, browser, qualified):
    browser("manager").post(PAGE, {"handoffs": [qualified.pk], "owner": "queue"})

    qualified.refresh_from_db()
    assert qualified.owner is None


def test_bulk_assign_to_a_rep_outside_the_managers_teams_is_refused_at_the_field(cast, browser):
    queued = handed(cast, None)

    response = browser("manager").post(PAGE, {"handoffs": [queued.pk], "owner": cast.other_rep.pk})

    assert response.status_code == 400
    assert "Choose one of your team&#x27;s reps, or the queue." in response.text
    queued.refresh_from_db()
    assert queued.owner is None


def test_bulk_assign_of_another_teams_handoff_writes_nothing(cast, browser):
    theirs = handed(cast, cast.other_rep)
    ours = handed(cast, None)

    response = browser("manager").post(PAGE, {"handoffs": [ours.pk, theirs.pk], "owner": cast.rep.pk})

    assert response.status_code == 400
    assert "Nothing was assigned" in response.text
    assert not HandoffEvent.objects.filter(action="reassign").exists()


def test_bulk_assign_with_nothing_ticked_says_to_tick_the_leads_first(cast, browser):
    response = browser("manager").post(PAGE, {"owner": "queue"})

    assert response.status_code == 400
    assert "Tick the leads first." in response.text


def test_a_manager_assigns_one_lead_from_its_action_page(cast, browser):
    queued = handed(cast, None, first_name="Single", last_name="Assign")
    second_rep = make_user("sam.rep", Role.SALES_REP, team=cast.team)
    client = browser("manager")

    form = client.get(reverse("handoff_action", args=[queued.pk, "reassign"])).text
    response = client.post(
        reverse("handoff_action", args=[queued.pk, "reassign"]), {"owner": second_rep.pk, "next": PAGE}, follow=True
    )

    assert f'<option value="{second_rep.pk}">' in form and f'<option value="{cast.other_rep.pk}">' not in form
    queued.refresh_from_db()
    assert queued.owner == second_rep
    assert f"Assigned {queued.lead} to" in response.text


def test_the_team_page_offers_assign_for_queue_rows_and_reassign_for_owned_ones(cast, browser, qualified):
    queued = handed(cast, None)

    text = browser("manager").get(PAGE).text

    assert f'{reverse("handoff_action", args=[queued.pk, "reassign"])}?next=' in text
    assert ">Assign</a>" in text and ">Reassign</a>" in text
    assert text.count("<dialog") == 1


def test_a_search_finds_by_company_and_pages_newer_and_older_without_counting(cast, browser, monkeypatch):
    for n in range(3):
        handed(cast, cast.rep, first_name=f"Match{n}", last_name="Lead", company="Acme Rockets")
    handed(cast, cast.rep, first_name="Other", last_name="Lead", company="Globex")
    client = browser("manager")
    monkeypatch.setattr(common, "PAGE_SIZE", 2)

    first = client.get(PAGE, {"q": "acme"}).text
    second = client.get(PAGE, {"q": "acme", "page": 2}).text
    unsearched = client.get(PAGE).text

    assert "Match2 Lead" in first and "Match1 Lead" in first and "Other Lead" not in first
    assert "Older →" in first and "in all" not in first and "Page 1<" in first
    assert "Match0 Lead" in second and "← Newer" in second and "Older →" not in second
    assert "Page 1 of 2 · 4 in all" in unsearched


def test_a_long_list_is_counted_up_to_a_bound_then_pages_on_newer_and_older(cast, browser, monkeypatch):
    for n in range(7):
        handed(cast, cast.rep, first_name=f"Lead{n}", last_name="Long")
    client = browser("manager")
    monkeypatch.setattr(common, "PAGE_SIZE", 2)
    monkeypatch.setattr(common, "COUNT_BOUND", 4)

    first = client.get(PAGE).text
    second = client.get(PAGE, {"page": 2}).text
    third = client.get(PAGE, {"page": 3}).text
    last = client.get(PAGE, {"page": 4}).text
    monkeypatch.setattr(common, "COUNT_BOUND", 10)
    counted = client.get(PAGE).text

    assert "Page 1 of 2+ · 4+ in all" in first and "Lead6 Long" in first and "Lead5 Long" in first
    assert "Page 2 of 2+ · 4+ in all" in second and "Older →" in second and "Lead3 Long" in second
    # Past the counted pages: newer and older, uncounted, down to the oldest row.
    assert "Page 3<" in third and "in all" not in third and "Lead1 Long" in third and "Older →" in third
    assert "Page 4<" in last and "Lead0 Long" in last and "Older →" not in last and "← Newer" in last
    assert "Page 1 of 4 · 7 in all" in counted
