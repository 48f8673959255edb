"""Every list page costs the same queries for 3 rows or 30: its rows, their leads, clocks and actions are read for
the whole page at once, never one row at a time."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from handoff.services.handoffs import handoff_dispute, handoffs_qualify, handoffs_reject
from tests.factories import make_lead

pytestmark = pytest.mark.django_db


def _qualified(cast, n: int):
    leads = [make_lead(owner=cast.rep) for _ in range(n)]
    return handoffs_qualify(lead_ids=[lead.pk for lead in leads], actor=cast.actor("marketer"))


def _rejected(cast, n: int):
    return handoffs_reject(handoffs=_qualified(cast, n), actor=cast.actor("rep"), reason="student")


def _disputed(cast, n: int):
    for handoff in _rejected(cast, n):
        handoff_dispute(handoff=handoff, actor=cast.actor("marketer"), reason="meets_definition")


def _unqualified(cast, n: int):
    for _ in range(n):
        make_lead(owner=cast.rep)


# (page, reader, what makes n rows of it, how a row shows in its HTML)
PAGES = [
    ("my_handoffs", "rep", _qualified, 'name="handoffs"'),
    ("team_handoffs", "manager", _qualified, 'name="handoffs"'),
    ("leads_to_qualify", "marketer", _unqualified, "/qualify/"),
    ("rejected_handoffs", "marketer", _rejected, "/leads/"),
    ("my_mqls", "marketer", _qualified, "/leads/"),
    ("disputes", "manager", _disputed, "/leads/"),
]


@pytest.mark.parametrize(("name", "reader", "make", "row"), PAGES, ids=[page[0] for page in PAGES])
def test_a_list_page_costs_the_same_queries_for_three_rows_or_thirty(cast, browser, name, reader, make, row):
    client = browser(reader)
    make(cast, 3)
    client.get(reverse(name))  # what a connection prepares once is prepared
    with CaptureQueriesContext(connection) as few:
        shown_few = client.get(reverse(name)).text.count(row)
    make(cast, 27)

    with CaptureQueriesContext(connection) as many:
        shown_many = client.get(reverse(name)).text.count(row)

    assert shown_many > shown_few > 0
    assert len(many) <= len(few), "\n".join(q["sql"] for q in many.captured_queries)
