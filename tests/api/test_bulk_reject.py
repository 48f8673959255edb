"""POST /api/handoffs/bulk-reject/: one reason for many handoffs, all or none."""

from __future__ import annotations

import pytest

from handoff.models import Handoff, HandoffEvent, HandoffState
from handoff.services import handoffs as machine

from ..factories import make_lead

pytestmark = pytest.mark.django_db

S = HandoffState
URL = "/api/handoffs/bulk-reject/"


@pytest.fixture
def batch(cast):
    """Three leads just handed to the rep."""
    leads = [make_lead(owner=cast.rep) for _ in range(3)]
    return [machine.handoff_qualify(lead=lead, actor=cast.actor("marketer")) for lead in leads]


def states(handoffs) -> list[str]:
    return list(Handoff.objects.filter(pk__in=[h.pk for h in handoffs]).order_by("pk").values_list("state", flat=True))


def rejects() -> int:
    return HandoffEvent.objects.filter(action="reject").count()


def test_the_rep_rejects_a_batch_with_one_reason(api, cast, batch):
    ids = [h.pk for h in batch]

    response = api("rep").post(URL, {"ids": ids, "reason": "duplicate", "note": "Same company"}, format="json")

    assert response.status_code == 200
    assert states(batch) == [S.REJECTED] * 3
    assert set(Handoff.objects.filter(pk__in=ids).values_list("reason__code", "note")) == {
        ("duplicate", "Same company")
    }
    assert set(HandoffEvent.objects.filter(action="reject").values_list("handoff_id", flat=True)) == set(ids)
    results = response.json()["results"]
    assert [r["id"] for r in results] == sorted(ids)
    assert {r["state"] for r in results} == {"rejected"}


def test_one_handoff_the_rep_cannot_see_rejects_none_of_them(api, cast, batch):
    theirs = machine.handoff_qualify(lead=make_lead(owner=cast.other_rep), actor=cast.actor("marketer"))
    ids = [h.pk for h in batch] + [theirs.pk]

    response = api("rep").post(URL, {"ids": ids, "reason": "duplicate"}, format="json")

    assert response.status_code == 400
    assert response.json()["field"] == "ids"
    assert str(theirs.pk) in response.json()["detail"]
    assert states([*batch, theirs]) == [S.QUALIFIED] * 4
    assert rejects() == 0


def test_a_role_that_may_not_reject_rejects_none_of_them(api, cast, batch):
    response = api("marketer").post(URL, {"ids": [h.pk for h in batch], "reason": "duplicate"}, format="json")

    assert response.status_code == 403
    assert str(batch[0].lead) in response.json()["detail"]
    assert states(batch) == [S.QUALIFIED] * 3
    assert rejects() == 0


def test_one_handoff_in_the_wrong_state_rejects_none_of_them(api, cast, batch):
    machine.handoff_accept(handoff=batch[1], actor=cast.actor("rep"))

    response = api("rep").post(URL, {"ids": [h.pk for h in batch], "reason": "duplicate"}, format="json")

    assert response.status_code == 409
    assert str(batch[1].lead) in response.json()["detail"]
    assert states(batch) == [S.QUALIFIED, S.ACCEPTED, S.QUALIFIED]
    assert rejects() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ids": [1]}, "reason"),
        ({"ids": [1], "reason": "no_such_reason"}, "reason"),
        ({"ids": [], "reason": "duplicate"}, "ids"),
        ({"ids": ["one"], "reason": "duplicate"}, "ids.0"),
        ({"reason": "duplicate"}, "ids"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, batch, body, field):
    body = {**body, "ids": [batch[0].pk if i == 1 else i for i in body["ids"]]} if "ids" in body else body

    response = api("rep").post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["field"] == field
    assert states(batch) == [S.QUALIFIED] * 3
    assert rejects() == 0
