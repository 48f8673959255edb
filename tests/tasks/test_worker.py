"""A real Celery worker process, fed through Redis, runs the SLA scan on the shared PostgreSQL database."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from handoff.models import Milestone, MilestoneKind
from handoff.services.actors import Actor
from handoff.services.handoffs import handoff_qualify
from handoff.tasks.sla import sla_scan_task
from tests.factories import make_lead, make_user

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


def _wait_for_breach(milestone: Milestone, worker: subprocess.Popen) -> Milestone | None:
    deadline = time.monotonic() + POLL_SECONDS
    while time.monotonic() < deadline:
        milestone.refresh_from_db()
        if milestone.breached_at is not None or worker.poll() is not None:
            return milestone
        time.sleep(0.25)
    return None


def test_worker_process_flags_a_breached_milestone_from_a_queued_scan(committed_db):
    queue = f"test-worker-{uuid.uuid4().hex[:12]}"
    rep = make_user(f"wanda.{uuid.uuid4().hex[:6]}", "sales_rep")
    # Handed over a week ago and never accepted: its accept milestone is long past due.
    handoff = handoff_qualify(
        lead=make_lead(owner=rep), actor=Actor.rule(), at=timezone.now() - timedelta(days=7)
    )
    accept = Milestone.objects.get(handoff=handoff, kind=MilestoneKind.ACCEPT)
    sla_scan_task.apply_async(queue=queue)
    # The message waits in Redis: nothing happens until a worker consumes it.
    accept.refresh_from_db()
    assert accept.breached_at is None

    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "worker.log"
        worker = _start_worker(queue, log_path)
        try:
            flagged = _wait_for_breach(accept, worker)
        finally:
            _stop(worker)
        log = log_path.read_text(errors="replace")

    assert flagged is not None and flagged.breached_at == accept.due_at, f"no breach in {POLL_SECONDS:.0f} s:\n{log}"
    assert handoff.events.count() == 1  # the policy only notifies: the handoff itself is left as it was
    assert "handoff.sla_scan" in log and "succeeded" in log, log
