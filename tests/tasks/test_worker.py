"""A real Celery worker process, fed through Redis, qualifies a lead in the shared PostgreSQL database."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection

from handoff.models import Handoff
from handoff.models.handoffs import ActorKind
from handoff.tasks.rules import qualify_by_rule
from tests.factories import make_lead

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.skipif(
        not settings.REDIS_URL or "postgresql" not in settings.DATABASES["default"]["ENGINE"],
        reason="needs REDIS_URL and DATABASE_URL=postgres://…: a separate worker process must share the test DB",
    ),
]

POLL_SECONDS = 30.0


def _test_database_url() -> str:
    """DATABASE_URL rewritten to the test database pytest-django created, so the worker sees committed rows."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + quote(connection.settings_dict["NAME"])))


def _start_worker(queue: str, log_path: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": _test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
    }
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker",
        "--pool", "solo", "-Q", queue, "-l", "info", "-n", f"{queue}@%h",
        "--without-heartbeat", "--without-mingle", "--without-gossip",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        return subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        # Warm shutdown first (the solo pool finishes its task), then make sure nothing is left behind.
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=5)


def _wait_for_rule_handoff(lead, worker: subprocess.Popen) -> Handoff | None:
    deadline = time.monotonic() + POLL_SECONDS
    while time.monotonic() < deadline:
        found = Handoff.objects.filter(lead=lead, qualified_by_kind=ActorKind.RULE).first()
        if found is not None or worker.poll() is not None:
            return found
        time.sleep(0.25)
    return None


def test_worker_process_qualifies_a_lead_that_meets_the_definition_as_the_rule(committed_db):
    queue = f"test-worker-{uuid.uuid4().hex[:12]}"
    # An earlier transactional test may have flushed the migrations' rows: make sure a definition is in force.
    from handoff.models import LeadDefinition
    from handoff.services.definitions import definition_create

    if not LeadDefinition.objects.filter(is_active=True).exists():
        definition_create(name="Engaged", conditions=[{"field": "score", "op": ">=", "value": 60}], activate=True)
    lead = make_lead(score=75.0, email="ada@example.com")
    qualify_by_rule.apply_async(kwargs={"lead_ids": [lead.pk]}, queue=queue)
    # The message waits in Redis: nothing happens until a worker consumes it.
    assert not Handoff.objects.filter(lead=lead).exists()

    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "worker.log"
        worker = _start_worker(queue, log_path)
        try:
            handoff = _wait_for_rule_handoff(lead, worker)
        finally:
            _stop(worker)
        log = log_path.read_text(errors="replace")

    assert handoff is not None, f"no rule handoff within {POLL_SECONDS:.0f} s; worker log:\n{log}"
    assert handoff.state == "qualified"
    assert handoff.qualified_by is None
    assert handoff.events.count() == 1
    assert "handoff.qualify_by_rule" in log and "succeeded" in log, log
