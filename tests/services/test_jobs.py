"""A service's background job is queued once per transaction, after it commits, and not at all on a rollback."""

from __future__ import annotations

import threading

import pytest
from django.conf import settings
from django.db import connection, transaction

from handoff.services import jobs

# Real commits and rollbacks (on_commit callbacks run); the migrations' rows are restored afterwards.
pytestmark = pytest.mark.usefixtures("committed_db")


@pytest.fixture
def sent(monkeypatch) -> list[str]:
    names: list[str] = []
    monkeypatch.setattr(jobs, "_send", names.append)
    return names


def test_a_job_asked_for_many_times_in_a_transaction_is_queued_once_when_it_commits(sent):
    with transaction.atomic():
        for _ in range(3):
            jobs.job_after_commit("handoff.a")
        jobs.job_after_commit("handoff.b")
        assert sent == []
    assert sent == ["handoff.a", "handoff.b"]


def test_a_rolled_back_transaction_queues_nothing_and_the_next_one_queues_again(sent):
    with pytest.raises(RuntimeError), transaction.atomic():
        jobs.job_after_commit("handoff.a")
        raise RuntimeError("rolled back")
    assert sent == []
    with transaction.atomic():
        jobs.job_after_commit("handoff.a")
    assert sent == ["handoff.a"]


def test_a_job_asked_for_in_a_savepoint_that_rolled_back_is_asked_for_again(sent):
    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            jobs.job_after_commit("handoff.a")
            raise RuntimeError("savepoint rolled back")
        jobs.job_after_commit("handoff.a")
    assert sent == ["handoff.a"]


def test_outside_a_transaction_the_job_is_queued_at_once(sent):
    jobs.job_after_commit("handoff.a")
    assert sent == ["handoff.a"]


def test_a_transaction_after_a_committed_one_queues_the_job_again(sent):
    for _ in range(2):
        with transaction.atomic():
            jobs.job_after_commit("handoff.a")
    assert sent == ["handoff.a", "handoff.a"]


@pytest.mark.postgres
@pytest.mark.skipif(
    "postgresql" not in settings.DATABASES["default"]["ENGINE"],
    reason="two transactions open at once need DATABASE_URL=postgres://… (SQLite here begins them IMMEDIATE)",
)
def test_transactions_open_at_once_in_two_threads_each_queue_the_job(sent):
    # Each thread has its own connection, so its own transaction: one's pending job is not the other's.
    both_asked = threading.Barrier(2, timeout=10)

    def ask() -> None:
        try:
            with transaction.atomic():
                jobs.job_after_commit("handoff.a")
                both_asked.wait()
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sent == ["handoff.a", "handoff.a"]
