"""Two scanners at once on PostgreSQL: a handoff whose clocks they share out is escalated once, by one of them."""
from __future__ import annotations

import threading

import pytest
from django.conf import settings
from django.db import connection

from handoff.models import Handoff, HandoffEvent, Milestone, SlaPolicy
from handoff.models.sla import Escalation, NotificationKind
from handoff.services.actors import Actor
from handoff.services.handoffs import handoffs_qualify
from handoff.services.sla import sla_scan
from tests.factories import make_lead, make_user

from .conftest import utc

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        "postgresql" not in settings.DATABASES["default"]["ENGINE"],
        reason="FOR UPDATE SKIP LOCKED between two connections needs DATABASE_URL=postgres://…",
    ),
    pytest.mark.usefixtures("committed_db"),
]


# Batches of 7 interleave the scanners clock by clock; batches of 40 give one scanner the first touch of
# handoffs whose accept clock the other is escalating at the same moment.
@pytest.mark.parametrize("limit", [7, 40])
def test_two_scanners_at_once_give_each_handoff_back_to_the_queue_once(monkeypatch, limit):
    monkeypatch.setattr("handoff.services.sla.scan.job_after_commit", lambda task: None)
    SlaPolicy.objects.filter(is_active=True).update(escalation=Escalation.QUEUE)
    rep = make_user("sam.scan", "sales_rep")
    leads = [make_lead(owner=rep, lead_source="Demo Request") for _ in range(60)]
    handoffs_qualify(lead_ids=[lead.pk for lead in leads], actor=Actor.rule(), at=utc("2026-03-09 09:00"))

    start = threading.Barrier(2)
    requeued: dict[str, list[int]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def scanner(name: str) -> None:
        try:
            start.wait()
            while True:
                result = sla_scan(kind=NotificationKind.BREACH, now=utc("2026-04-01 12:00"), limit=limit)
                if not result.flagged:
                    break
                requeued[name] += result.requeued
        except BaseException as exc:  # noqa: BLE001 - surfaced to the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=scanner, args=(name,)) for name in requeued]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    assert requeued["a"] and requeued["b"], "both scanners should have taken part of the work"
    assert sorted(requeued["a"] + requeued["b"]) == sorted(Handoff.objects.values_list("pk", flat=True))
    assert not Handoff.objects.filter(owner__isnull=False).exists()
    assert HandoffEvent.objects.filter(actor_kind="system", action="reassign").count() == 60
    assert not Milestone.objects.filter(breached_at__isnull=True, met_at__isnull=True, stopped_at__isnull=True).exists()
