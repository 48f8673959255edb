"""Each role's day in a real browser, on a desktop (1366 px) and a phone (390 px): sign in, do the role's core
action, see the result on the page and in the lead's history; nothing overflows sideways on any page."""
from __future__ import annotations

import re

import pytest

from handoff.models import Handoff, HandoffEvent, HandoffState
from handoff.services.handoffs import handoff_accept, handoff_dispute, handoff_qualify, handoff_reject
from tests.factories import make_lead

from .conftest import BROWSER_DB, WIDTHS, assert_fits, sign_in

pytestmark = [pytest.mark.browser, BROWSER_DB]
expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install -r requirements-browser.txt"
).expect
SIZES = pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())


def handed(cast, owner, **fields) -> Handoff:
    return handoff_qualify(lead=make_lead(owner=owner, **fields), actor=cast.actor("marketer"))


def row(page, text: str):
    return page.locator("tbody tr", has_text=text)


@SIZES
def test_a_rep_accepts_a_lead_and_sees_it_in_the_leads_history(cast, open_page, width):
    lead = handed(cast, cast.rep, first_name="Ada", last_name="Accepted", company="Analytical Engines").lead
    for n in range(6):  # a list of some length, long names and all
        handed(cast, cast.rep, first_name=f"Maximilian-Alexander {n}", last_name="Longname-Wolfeschlegel",
               company="Internationale Handelsgesellschaft für Werkzeugmaschinen mbH", email=f"max{n}@example.com")
    page = open_page(width)

    sign_in(page, cast.rep.username)

    expect(page.get_by_role("heading", name="My handoffs")).to_be_visible()
    assert_fits(page)
    row(page, "Ada Accepted").get_by_role("button", name="Accept").click()
    expect(page.locator(".message.success")).to_contain_text(f"Accepted {lead}.")
    expect(row(page, "Ada Accepted").locator(".state")).to_have_text("Accepted")
    assert_fits(page)
    row(page, "Ada Accepted").get_by_role("link", name=str(lead)).click()
    expect(page.get_by_role("heading", name=re.compile(str(lead)))).to_be_visible()
    expect(page.locator("table.history")).to_contain_text("qualified → accepted")
    assert_fits(page)
    assert Handoff.objects.get(lead=lead).state == HandoffState.ACCEPTED
    assert HandoffEvent.objects.filter(lead=lead, action="accept", actor=cast.rep).exists()


def test_a_rep_rejects_a_lead_with_the_keyboard_alone(cast, open_page):
    handoff = handed(cast, cast.rep, first_name="Kay", last_name="Board")
    page = open_page(WIDTHS["desktop"])
    sign_in(page, cast.rep.username)

    # Tab to the row's Reject, open the dialog with Enter, choose a reason with the arrow keys, type the note, send.
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.dataset.dialog === 'reject'"):
            break
    else:
        pytest.fail("Tab never reached the row's Reject")
    page.keyboard.press("Enter")
    dialog = page.locator("dialog#action-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_have_text(f"Reject {handoff.lead}")
    expect(dialog.locator('fieldset[data-for="reject"] select[name="reason"]')).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")
    page.keyboard.type("Asked us to call back in a year")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")

    expect(page.locator(".message.success")).to_contain_text(f"Rejected {handoff.lead}")
    handoff.refresh_from_db()
    assert handoff.state == HandoffState.REJECTED
    assert handoff.note == "Asked us to call back in a year"
    assert handoff.reason is not None


@SIZES
def test_bulk_reject_with_nothing_ticked_says_to_tick_the_leads_first(cast, open_page, width):
    handed(cast, cast.rep)
    page = open_page(width)
    sign_in(page, cast.rep.username)

    page.get_by_role("button", name="Reject ticked").click()

    expect(page.get_by_role("alert")).to_have_text("Tick the leads first.")
    assert Handoff.objects.get().state == HandoffState.QUALIFIED


@SIZES
def test_a_marketer_qualifies_ticked_leads_in_bulk(cast, open_page, width):
    first = make_lead(owner=cast.rep, first_name="Bulk", last_name="One")
    second = make_lead(owner=cast.rep, first_name="Bulk", last_name="Two")
    make_lead(owner=cast.rep, first_name="Left", last_name="Alone")
    page = open_page(width)

    sign_in(page, cast.marketer.username)

    expect(page.get_by_role("heading", name="Leads to qualify")).to_be_visible()
    assert_fits(page)
    page.get_by_label("Tick Bulk One").check()
    page.get_by_label("Tick Bulk Two").check()
    page.get_by_label("Note for sales").fill("Met at the trade fair")
    page.get_by_role("button", name="Qualify ticked").click()
    expect(page.locator(".message.success")).to_contain_text("Qualified 2 leads")
    expect(page.locator("tbody")).not_to_contain_text("Bulk One")
    page.goto(f"/leads/{first.pk}/")
    expect(page.locator("table.history")).to_contain_text("Met at the trade fair")
    assert_fits(page)
    assert set(Handoff.objects.values_list("lead", flat=True)) == {first.pk, second.pk}


@SIZES
def test_a_manager_assigns_a_queue_lead_to_a_rep(cast, open_page, width):
    queued = handed(cast, None, first_name="Queue", last_name="Waiting")
    handoff_accept(handoff=handed(cast, cast.rep), actor=cast.actor("rep"))
    page = open_page(width)

    sign_in(page, cast.manager.username)

    expect(page.get_by_role("heading", name="Team handoffs")).to_be_visible()
    assert_fits(page)
    row(page, "Queue Waiting").get_by_role("link", name="Assign").click()
    dialog = page.locator("dialog#action-dialog")
    expect(dialog.get_by_role("heading")).to_have_text(f"Assign {queued.lead}")
    dialog.get_by_label("To").select_option(str(cast.rep.pk))
    dialog.get_by_role("button", name="Assign").click()
    expect(page.locator(".message.success")).to_contain_text(f"Assigned {queued.lead} to {cast.rep.username}")
    assert_fits(page)
    page.goto(f"/leads/{queued.lead_id}/")
    expect(page.locator("table.history")).to_contain_text(f"reassign · to {cast.rep.username}")
    queued.refresh_from_db()
    assert queued.owner == cast.rep


@SIZES
def test_a_manager_resolves_a_dispute(cast, open_page, width):
    rejected = handoff_reject(handoff=handed(cast, cast.rep, first_name="Dis", last_name="Puted"),
                              actor=cast.actor("rep"), reason="student")
    handoff_dispute(handoff=rejected, actor=cast.actor("marketer"), reason="meets_definition", note="Score 90")
    page = open_page(width)
    sign_in(page, cast.manager.username)

    page.goto("/disputes/")
    assert_fits(page)
    page.get_by_role("button", name="Overturn").click()

    expect(page.locator(".message.success")).to_contain_text("Overturned the rejection")
    assert_fits(page)
    page.goto(f"/leads/{rejected.lead_id}/")
    expect(page.locator("table.history")).to_contain_text("resolve · overturn")
    assert_fits(page)
    rejected.refresh_from_db()
    assert rejected.state == HandoffState.QUALIFIED
