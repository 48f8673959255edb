"""Every page a person uses fits the window, at 390 px (a phone) and 1366 px (a laptop): no sideways scroll."""
from __future__ import annotations

import pytest

from handoff.services.feedback import feedback_requests_create
from handoff.services.handoffs import handoff_accept, handoff_dispute, handoff_qualify, handoff_reject
from tests.factories import make_lead

from .conftest import BROWSER_DB, WIDTHS, assert_fits, sign_in

pytestmark = [pytest.mark.browser, BROWSER_DB]

PAGES = {
    "rep": ["/my-handoffs/", "/my-handoffs/?state=all", "/feedback/", "/leads/{lead}/", "/handoffs/{qualified}/reject/",
            "/handoffs/{accepted}/touch/"],
    "marketer": ["/qualify/", "/rejected/", "/quality/", "/quality/feedback/", "/reports/", "/reports/relationship/",
                 "/leads/{lead}/"],
    "manager": ["/team/", "/disputes/", "/reports/", "/reports/relationship/", "/leads/{lead}/"],
}


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
@pytest.mark.parametrize("who", PAGES)
def test_every_page_fits_the_window(cast, open_page, who, width):
    marketer = cast.actor("marketer")
    long = {"first_name": "Maximiliane-Charlotte", "last_name": "von Hohenzollern-Sigmaringen",
            "company": "Vereinigte Werkzeugmaschinenfabriken Süd-West Aktiengesellschaft",
            "email": "maximiliane.charlotte.von.hohenzollern@vereinigte-werkzeugmaschinen.example.com"}
    qualified = handoff_qualify(lead=make_lead(owner=cast.rep, **long), actor=marketer)
    accepted = handoff_accept(handoff=handoff_qualify(lead=make_lead(owner=cast.rep, **long), actor=marketer),
                              actor=cast.actor("rep"))
    rejected = handoff_reject(handoff=handoff_qualify(lead=make_lead(owner=cast.rep, **long), actor=marketer),
                              actor=cast.actor("rep"), reason="student", note="A long note " * 20)
    handoff_dispute(handoff=handoff_reject(handoff=handoff_qualify(lead=make_lead(owner=cast.rep), actor=marketer),
                                           actor=cast.actor("rep"), reason="student"),
                    actor=marketer, reason="meets_definition")
    handoff_qualify(lead=make_lead(owner=None, **long), actor=marketer)
    make_lead(owner=cast.rep, **long)
    feedback_requests_create()
    ids = {"lead": qualified.lead_id, "qualified": qualified.pk, "accepted": accepted.pk, "rejected": rejected.pk}
    page = open_page(width)
    page.goto("/login/")
    assert_fits(page)
    sign_in(page, getattr(cast, who).username)

    for path in PAGES[who]:
        response = page.goto(path.format(**ids))
        assert response.status == 200, path
        assert_fits(page)


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_a_page_of_another_role_and_a_missing_page_are_pages_of_the_app(cast, open_page, width):
    page = open_page(width)
    sign_in(page, cast.rep.username)

    forbidden = page.goto("/team/")
    assert forbidden.status == 403
    assert page.locator("header.topbar").is_visible()
    assert page.get_by_role("link", name="My handoffs").first.is_visible()
    assert_fits(page)
    missing = page.goto("/leads/987654321/")
    assert missing.status == 404
    assert page.locator("header.topbar").is_visible()
    assert_fits(page)
