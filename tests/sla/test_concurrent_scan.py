"""Two scanners at once on PostgreSQL: each clock is flagged once and each notice written once."""
from __future__ import annotations

import threading

import pytest
from django.conf import settings
from django.db import connection

from handoff.models import Milestone, SlaNotification
from handoff.models.sla import NotificationKind
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
    # Committed rows (the `committed_db` fixture), so the scanners' own connections see them; the database is
    # restored afterwards, migrations' rows included, for the tests that run after.
    pytest.mark.usefixtures("committed_db"),
]


def test_two_scanners_at_once_flag_each_clock_once_and_write_each_notice_once(monkeypatch):
    sent_for = []
    monkeypatch.setattr("handoff.services.sla.scan.job_after_commit", lambda task: sent_for.append(task))
    rep = make_user("sam.scan", "sales_rep")
    leads = [make_lead(owner=rep) for _ in range(60)]
    handoffs_qualify(lead_ids=[lead.pk for lead in leads], actor=Actor.rule(), at=utc("2026-03-09 09:00"))
    total = Milestone.objects.count()
    assert total == 180

    start = threading.Barrier(2)
    flagged: dict[str, list[int]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def scanner(name: str) -> None:
        try:
            start.wait()
            while True:
                # Small batches so the two scanners interleave many times.
                batch = sla_scan(kind=NotificationKind.BREACH, now=utc("2026-04-01 12:00"), limit=7).flagged
                if not batch:
                    break
                flagged[name] += [pk for pk, _, _ in batch]
        except BaseException as exc:  # noqa: BLE001 - surfaced to the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=scanner, args=(name,)) for name in flagged]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    assert flagged["a"] and flagged["b"], "both scanners should have taken part of the work"
    assert not set(flagged["a"]) & set(flagged["b"])
    assert sorted(flagged["a"] + flagged["b"]) == sorted(Milestone.objects.values_list("pk", flat=True))
    assert Milestone.objects.filter(breached_at__isnull=True).count() == 0
    notices = SlaNotification.objects.filter(kind=NotificationKind.BREACH)
    assert notices.count() == total
    assert notices.values("milestone").distinct().count() == total
    assert sent_for, "each committed scan queues the sender"
