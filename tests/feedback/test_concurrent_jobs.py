"""Two workers at once on PostgreSQL: the request job asks once per handoff and rater, the digest job writes one
digest per rep and day and counts each request once."""
from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.conf import settings
from django.db import connection

from handoff.models import FeedbackDigest, FeedbackPoint, FeedbackPointReached, FeedbackRequest
from handoff.services import handoffs as machine
from handoff.services.actors import Actor
from handoff.services.feedback import feedback_digests_create, feedback_requests_create
from tests.factories import make_lead, make_user

from .conftest import local

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        "postgresql" not in settings.DATABASES["default"]["ENGINE"],
        reason="SKIP LOCKED and row locks between two connections need DATABASE_URL=postgres://…",
    ),
    pytest.mark.usefixtures("committed_db"),
]


def at_once(work: Callable[[], object]) -> list:
    """Run `work` in two threads released together; their results (an exception fails the test)."""
    start = threading.Barrier(2)
    results, errors = [], []

    def worker() -> None:
        try:
            start.wait()
            results.append(work())
        except BaseException as exc:  # noqa: BLE001 - surfaced to the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


@pytest.fixture
def handoffs(time_machine):
    """120 leads rejected and 60 accepted on Monday 9 March 2026 (UTC calendar), committed."""
    time_machine.move_to(local("2026-03-09 10:00", "UTC"), tick=False)
    rep = make_user("cora.current", "sales_rep")
    actor = Actor.person(rep)
    leads = [make_lead(owner=rep) for _ in range(180)]
    handed = machine.handoffs_qualify(lead_ids=[lead.pk for lead in leads], actor=Actor.rule())
    machine.handoffs_reject(handoffs=handed[:120], actor=actor, reason="duplicate")
    for handoff in handed[120:]:
        machine.handoff_accept(handoff=handoff, actor=actor)
    return rep


def test_two_request_jobs_at_once_ask_once_per_handoff(handoffs, time_machine):
    time_machine.move_to(local("2026-03-16 12:00", "UTC"), tick=False)  # the accepted ones' fifth business day

    results = at_once(lambda: feedback_requests_create(batch=7))  # small batches: the workers interleave

    assert sum(result.created for result in results) == 180
    assert sum(result.points_read for result in results) == 120
    assert FeedbackRequest.objects.count() == 180
    assert FeedbackRequest.objects.filter(point=FeedbackPoint.REJECTED).count() == 120
    assert FeedbackRequest.objects.filter(point=FeedbackPoint.ACCEPTED).count() == 60
    assert not FeedbackPointReached.objects.exists()
    assert feedback_requests_create().created == 0


def test_two_digest_jobs_at_once_write_one_digest_and_count_each_request_once(handoffs, time_machine):
    time_machine.move_to(local("2026-03-16 12:00", "UTC"), tick=False)
    feedback_requests_create()
    time_machine.move_to(local("2026-03-17 09:00", "UTC"), tick=False)

    results = at_once(feedback_digests_create)

    assert sorted(result.made for result in results) == [0, 1]
    assert FeedbackDigest.objects.count() == 1
    assert set(FeedbackRequest.objects.values_list("digests", flat=True)) == {1}
