"""Two routing passes at once, in two processes on PostgreSQL: no lead gets two owners, every rep's counts stay
right, and the weighted order holds (the passes split the queue with SKIP LOCKED and take turns on the team's reps)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Sum

from handoff.models import Handoff, HandoffEvent, HandoffRouting, RepProfile, RepRouting, RepRoutingDay, WriteBack

from .conftest import Org, build_org, qualify, queue_leads

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        "postgresql" not in settings.DATABASES["default"]["ENGINE"],
        reason="row locks and SKIP LOCKED between two processes need DATABASE_URL=postgres://…",
    ),
]

LEADS = 600

# Each worker waits for the start file, so both passes run at the same moment, in small batches to interleave.
WORKER = """
import json, os, sys, time
import django
django.setup()
from handoff.services.routing import routing_queue_retry
start = sys.argv[1]
open(start + "." + str(os.getpid()), "w").close()  # ready
while not os.path.exists(start):
    time.sleep(0.01)
result = routing_queue_retry(batch=20)
print(json.dumps({"routed": len(result.routed), "waiting": len(result.queued), "passed_over": result.passed_over}))
"""


@pytest.fixture
def org(committed_db) -> Org:
    """The org, committed: the worker processes must see it."""
    return build_org()


def _test_database_url() -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + quote(connection.settings_dict["NAME"])))


def _two_passes_at_once() -> list[dict]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "DATABASE_URL": _test_database_url()}
    with tempfile.TemporaryDirectory() as folder:
        start = Path(folder) / "go"
        workers = [
            subprocess.Popen([sys.executable, "-c", WORKER, str(start)], cwd=settings.BASE_DIR, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        deadline = time.monotonic() + 60
        while len(list(Path(folder).glob("go.*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # until both have set Django up and wait at the line
        start.touch()
        outputs = [worker.communicate(timeout=180) for worker in workers]
    for worker, (_out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
    return [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]


def test_two_passes_in_two_processes_give_each_lead_one_owner_and_keep_every_count_right(org):
    org.weights(ana=1, ben=1, cyd=3)
    RepProfile.objects.filter(team=org.emea).update(is_active=False)  # nobody can take them: they wait
    waiting = qualify(queue_leads(LEADS))
    assert not Handoff.objects.filter(pk__in=[h.pk for h in waiting], owner__isnull=False).exists()
    RepProfile.objects.filter(team=org.emea).update(is_active=True)

    results = _two_passes_at_once()

    assert sum(r["routed"] for r in results) == LEADS
    assert all(r["routed"] > 0 for r in results), results  # both passes did part of the work
    owners = Counter(
        Handoff.objects.filter(pk__in=[h.pk for h in waiting]).values_list("owner__username", flat=True)
    )
    assert owners == {"ana": 120, "ben": 120, "cyd": 360}  # exact shares: the order held across both processes
    # One routing event per lead (and the one of its wait), one OwnerId write-back each.
    routed_events = Counter(
        HandoffEvent.objects.filter(action="route").exclude(data__owner=None).values_list("handoff_id", flat=True)
    )
    assert len(routed_events) == LEADS and set(routed_events.values()) == {1}
    assert WriteBack.objects.filter(action="route").count() == LEADS
    assert HandoffRouting.objects.filter(status="routed").count() == LEADS
    counted = dict(RepRouting.objects.filter(user__profile__team=org.emea).values_list("user__username", "assigned"))
    assert counted == dict(owners)
    assert RepRoutingDay.objects.filter(user__profile__team=org.emea).aggregate(n=Sum("assigned"))["n"] == LEADS


def test_a_pass_that_waits_for_the_reps_locks_reads_what_the_pass_before_it_wrote(org):
    """The pool is read in the statement that locks the reps' routing rows: a row another pass changed while this one
    waited must not be read as the statement's start saw it (credit, totals, leads given today)."""
    import threading

    import psycopg
    from django.db import connections, transaction
    from django.utils import timezone

    from handoff.selectors.routing import routing_pool

    org.weights(ana=1, ben=1, cyd=1)  # every EMEA rep has a routing row
    at = timezone.now()
    day = at.date()  # the reps keep the default calendar (UTC)
    other = psycopg.connect(_test_database_url())  # another pass, holding the rows while it writes
    other.execute("UPDATE handoff_reprouting SET credit = 777, assigned = assigned + 5 WHERE user_id = %s",
                  [org.ana.pk])
    other.execute("INSERT INTO handoff_reproutingday (user_id, day, assigned) VALUES (%s, %s, 5)", [org.ana.pk, day])
    seen = {}

    def this_pass():
        try:
            with transaction.atomic():
                seen["pool"] = routing_pool([org.emea.pk], at, lock=True)[org.emea.pk]
        finally:
            connections.close_all()

    worker = threading.Thread(target=this_pass)
    worker.start()
    worker.join(timeout=1.5)
    assert worker.is_alive()  # it waits for the other pass's lock
    other.commit()
    other.close()
    worker.join(timeout=30)
    ana = next(rep for rep in seen["pool"] if rep.user_id == org.ana.pk)
    assert (ana.credit, ana.assigned, ana.today) == (777, 5, 5)
