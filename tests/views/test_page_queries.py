"""Every list page costs the same number of queries for 3 rows as for 30: nothing is read per row."""
from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from handoff.models import Handoff, Milestone
from handoff.services.feedback import feedback_requests_create
from handoff.services.handoffs import (
    handoff_accept,
    handoff_convert,
    handoff_dispute,
    handoff_qualify,
    handoff_reject,
)
from tests.factories import make_lead

pytestmark = pytest.mark.django_db


def _handed(cast, owner="rep") -> Handoff:
    return handoff_qualify(lead=make_lead(owner=getattr(cast, owner) if owner else None), actor=cast.actor("marketer"))


def _mixed(cast, n: int) -> None:
    """The rep's list and the team's: to accept, accepted, breached, and queue leads."""
    for i in range(n):
        handoff = _handed(cast, None if i % 3 == 2 else "rep")
        if i % 3 == 1:
            handoff_accept(handoff=handoff, actor=cast.actor("rep"))
        if i % 2 == 0:
            Milestone.objects.filter(handoff=handoff).update(breached_at=handoff.handed_at)


def _rejected(cast, n: int) -> None:
    for _ in range(n):
        handoff_reject(handoff=_handed(cast), actor=cast.actor("rep"), reason="student")


def _disputed(cast, n: int) -> None:
    for _ in range(n):
        rejected = handoff_reject(handoff=_handed(cast), actor=cast.actor("rep"), reason="student")
        handoff_dispute(handoff=rejected, actor=cast.actor("marketer"), reason="meets_definition")


def _asked(cast, n: int) -> None:
    """Feedback to give: half of them on rejected leads (market signals only), half on converted ones."""
    rep = cast.actor("rep")
    for i in range(n):
        if i % 2:
            handoff_reject(handoff=_handed(cast), actor=rep, reason="student")
        else:
            handoff_convert(handoff=handoff_accept(handoff=_handed(cast), actor=rep), actor=rep)
    feedback_requests_create()


def _unqualified(cast, n: int) -> None:
    for i in range(n):
        make_lead(owner=cast.rep if i % 2 else None)


PAGES: dict[str, tuple[str, str, Callable]] = {
    "my handoffs, to do": ("rep", "/my-handoffs/", _mixed),
    "my handoffs, everything, by score": ("rep", "/my-handoffs/?state=all&sort=score", _mixed),
    "my handoffs, breached, searched": ("rep", "/my-handoffs/?state=open&breached=yes&q=ada&segment=standard", _mixed),
    "team": ("manager", "/team/", _mixed),
    "team, breached": ("manager", "/team/?breached=yes", _mixed),
    "team, queue": ("manager", "/team/?rep=queue", _mixed),
    "disputes": ("manager", "/disputes/", _disputed),
    "leads to qualify": ("marketer", "/qualify/", _unqualified),
    "rejected": ("marketer", "/rejected/", _rejected),
    "feedback to give": ("rep", "/feedback/", _asked),
    "my MQLs": ("marketer", "/mqls/", _mixed),
    "my MQLs, disputed": ("marketer", "/mqls/?state=disputed", _disputed),
}


@pytest.mark.parametrize("page", PAGES)
def test_a_list_page_reads_as_many_times_for_thirty_rows_as_for_three(cast, browser, page):
    who, path, rows = PAGES[page]
    client = browser(who)
    rows(cast, 3)
    client.get(path)  # caches warm (the calendars, the content types) as a person's second page would have them
    with CaptureQueriesContext(connection) as few:
        first = client.get(path)
    rows(cast, 27)

    with CaptureQueriesContext(connection) as many:
        second = client.get(path)

    assert first.status_code == second.status_code == 200
    assert second.content.count(b'href="/leads/') > first.content.count(b'href="/leads/') > 0
    assert len(many) <= len(few), "\n".join(q["sql"][:160] for q in many.captured_queries)
