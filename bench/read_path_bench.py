"""Benchmark the read path as a user's load hits it: gunicorn (2 sync workers) and `wrk -t2 -c16 -d10s` against
the API lists and the pages, each beside a trivial JsonResponse view and a raw `.values()` + JsonResponse list of
the same rows, served by the same server in the same run.

Run by hand (PostgreSQL at 127.0.0.1:5432, Debian's `wrk` on the PATH):
  .venv/bin/python bench/read_path_bench.py                        # load (if not loaded yet), measure at 200k and 1M
  .venv/bin/python bench/read_path_bench.py --phases 200000 --only api
  .venv/bin/python bench/read_path_bench.py --drop                 # drop the database and load it again

Data (kept between runs in --database-url; built with INSERT … SELECT generate_series in a minute or two):
1,000,000 leads; a team of 25 reps under one manager, each rep owning 2,000 of the team's 50,000 leads and their
handoffs; 1,000 leads and handoffs in the queue (no owner); 475 other reps in 19 other teams own the rest. The
first phase has 200,000 handoffs (the team's, the queue's and 149,000 others'), the second 1,000,000 (every lead
one): the team's rows are the same in both, the others' rows are added in between them in time. Each handoff has an
accept milestone and, once accepted, a first-touch one, and a qualify event. 1 in 10 accept clocks breached
before they were met or stopped; every accept clock still ticking past its due time is flagged breached, as the
SLA scan does within a minute of it (3 in 10 handoffs have a breach).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _support import clocks_bulk_begin, clocks_bulk_end

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
TEAM_SIZE = 25
OTHER_REPS = 475
LEADS = 1_000_000
# Lead i belongs to: the team when i % 20 == 0 (rep (i / 20) % 25: 2,000 each), the queue when i % 1000 == 7,
# another rep otherwise. In the first phase 149,000 of the others' leads have a handoff; in the second, all do.
TEAM_LEAD = "mod(l.id, 20) = 0"
QUEUE_LEAD = "mod(l.id, 1000) = 7"
FIRST_PHASE_OTHER = "mod((l.id * 7919), 949) < 149"
STATES = ["qualified"] * 3 + ["accepted"] * 7 + ["rejected", "disputed"] + ["converted"] * 3 + ["recycled"] * 4 + [
    "closed"
]


def _env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "read-path-bench-" + "x" * 40,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "EMAIL_URL": "dummymail://",
        "LOG_LEVEL": "WARNING",
    }


def _setup(database_url: str, *, drop: bool) -> None:
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    admin = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if drop and exists:
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        if drop or not exists:
            connection.execute(f'CREATE DATABASE "{name}"')
    os.environ.update(_env(database_url))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # The server runs without DEBUG, as in production: its pages need the collected static files (WhiteNoise).
    call_command("collectstatic", interactive=False, verbosity=0)


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
_EMPTY = {"character varying": "''", "text": "''", "boolean": "false", "jsonb": "'{}'", "integer": "0",
          "smallint": "0", "bigint": "0", "double precision": "0"}


def _rest(table: str, given: str) -> tuple[str, str]:
    """The columns of `table` the INSERT does not name that need a value (added by later migrations), and an empty
    value for each: ", col, …" and ", '', …"."""
    from django.db import connection

    named = {name.strip() for name in given.split(",")}
    with connection.cursor() as c:
        c.execute(
            """SELECT column_name, data_type FROM information_schema.columns
               WHERE table_name = %s AND is_nullable = 'NO' AND column_default IS NULL AND is_identity = 'NO'""",
            [table],
        )
        rest = [(name, _EMPTY[kind]) for name, kind in c.fetchall() if name not in named]
    return "".join(f", {name}" for name, _ in rest), "".join(f", {value}" for _, value in rest)


def load_people() -> dict:
    """The people (idempotent): a marketer, the team's manager and 25 reps, 475 other reps in 19 teams."""
    from django.contrib.auth.models import Group, User
    from rest_framework.authtoken.models import Token

    from handoff.models import RepProfile, Team

    if not RepProfile.objects.filter(user__username="rep000").exists():
        User.objects.filter(username__startswith="bench-").delete()
        User.objects.filter(username__startswith="rep").delete()
        Team.objects.all().delete()
        groups = {g.name: g for g in Group.objects.all()}
        manager = User.objects.create(username="bench-manager", first_name="Mia", last_name="Manager", password="!")
        marketer = User.objects.create(username="bench-marketer", first_name="Max", last_name="Marketer", password="!")
        groups["manager"].user_set.add(manager)
        groups["marketer"].user_set.add(marketer)
        team = Team.objects.create(name="Bench team", manager=manager)
        others = [Team.objects.create(name=f"Other team {i:02}") for i in range(19)]
        reps = User.objects.bulk_create(
            User(username=f"rep{i:03}", first_name="Rep", last_name=f"{i:03}", email=f"rep{i:03}@example.com",
                 password="!")
            for i in range(TEAM_SIZE + OTHER_REPS)
        )
        groups["sales_rep"].user_set.add(*reps)
        RepProfile.objects.bulk_create(
            RepProfile(user=u, team=team if i < TEAM_SIZE else others[i % 19])
            for i, u in enumerate(reps)
        )
    reps = list(User.objects.filter(username__startswith="rep").order_by("username").values_list("pk", flat=True))
    for username in ("bench-manager", "bench-marketer", "rep000"):
        Token.objects.get_or_create(user=User.objects.get(username=username))
    return {
        "rep": User.objects.get(username="rep000"),
        "manager": User.objects.get(username="bench-manager"),
        "marketer": User.objects.get(username="bench-marketer"),
        "team": reps[:TEAM_SIZE],
        "others": reps[TEAM_SIZE:],
    }


def load_leads(people: dict, now: datetime) -> None:
    from django.db import connection

    with connection.cursor() as c:
        c.execute("SELECT count(*) FROM handoff_lead")
        if c.fetchone()[0] >= LEADS:
            return
        started = time.perf_counter()
        c.execute("TRUNCATE handoff_lead CASCADE")
        columns = """id, crm_id, first_name, last_name, email, company, title, country, industry, lead_source, status,
            score, owner_id, crm_owner_id, is_converted, is_deleted, crm_created_at, crm_modified_at, raw, created_at,
            updated_at"""
        more, values = _rest("handoff_lead", columns)
        # Lead i was created i steps into the last 26 weeks: ids follow time, as a sync's inserts do.
        c.execute(
            f"""INSERT INTO handoff_lead ({columns}{more})
                SELECT l.id, '00Qb' || lpad(l.id::text, 14, '0'), 'Ada' || mod(l.id, 97),
                       'Lovelace' || mod(l.id, 89),
                       'ada' || l.id || '@example.com', 'Company ' || (mod(l.id, 5003)), 'CTO', 'US', 'Software',
                       (ARRAY['Web', 'Demo Request', 'Webinar', 'Partner Referral'])[1 + mod(l.id, 4)], 'Open',
                       mod(l.id, 100),
                       CASE WHEN {TEAM_LEAD} THEN (%(team)s::bigint[])[1 + mod((l.id / 20), {TEAM_SIZE})]
                            WHEN {QUEUE_LEAD} THEN NULL
                            ELSE (%(others)s::bigint[])[1 + mod((l.id * 31), {OTHER_REPS})] END,
                       '', false, false, t.at, t.at, '{{}}', t.at, t.at{values}
                FROM generate_series(1, %(n)s) AS l(id)
                CROSS JOIN LATERAL (SELECT %(start)s + l.id * %(step)s * interval '1 second' AS at) t""",
            {"team": people["team"], "others": people["others"], "n": LEADS, "start": now - timedelta(weeks=26),
             "step": timedelta(weeks=26).total_seconds() / LEADS},
        )
        c.execute("SELECT setval(pg_get_serial_sequence('handoff_lead', 'id'), %s)", [LEADS])
        print(f"  {LEADS:,} leads in {time.perf_counter() - started:.1f} s", flush=True)


def load_handoffs(phase: int) -> None:
    """Handoffs for the leads of this phase that have none yet, with their milestones and qualify events."""
    from django.db import connection

    from handoff.models import BusinessCalendar, LeadDefinition, ReasonCode, SlaPolicy

    which = "true" if phase >= LEADS else f"({TEAM_LEAD} OR {QUEUE_LEAD} OR {FIRST_PHASE_OTHER})"
    with connection.cursor() as c:
        c.execute("SELECT count(*) FROM handoff_handoff")
        have = c.fetchone()[0]
        if have > phase * 1.01:
            # Measured at a larger phase before: take the others' added rows out again (the team's stay as they are).
            started = time.perf_counter()
            c.execute(f"CREATE TEMP TABLE bench_gone AS SELECT h.id FROM handoff_handoff h JOIN handoff_lead l "
                      f"ON l.id = h.lead_id WHERE NOT {which}")
            clocks_bulk_begin(c)  # the clocks' handoffs go too
            for table in ("handoff_milestone", "handoff_handoffevent", "handoff_handoff"):
                column = "id" if table == "handoff_handoff" else "handoff_id"
                c.execute(f"DELETE FROM {table} WHERE {column} IN (SELECT id FROM bench_gone)")
            clocks_bulk_end(c)
            c.execute("DROP TABLE bench_gone")
            print(f"  back to {phase:,} handoffs in {time.perf_counter() - started:.1f} s", flush=True)
        elif have >= phase:
            return
        started = time.perf_counter()
        definition = LeadDefinition.objects.get(is_active=True).pk
        policy = SlaPolicy.objects.get(is_active=True).pk
        calendar = BusinessCalendar.objects.get(is_default=True).pk
        reject = ReasonCode.objects.filter(kind="reject").values_list("pk", flat=True).first()
        c.execute("SELECT coalesce(max(id), 0) FROM handoff_handoff")
        last = c.fetchone()[0]
        columns = """lead_id, sequence, state, owner_id, definition_id, qualified_by_kind, qualified_at, handed_at,
            accepted_at, rejected_at, disputed_at, first_touch_at, converted_at, recycled_at, closed_at, reason_id,
            note, dispute_note, created_at, updated_at"""
        more, values = _rest("handoff_handoff", columns)
        clocks_bulk_begin(c)  # each handoff's next due time set in one statement once its clocks are in
        c.execute(
            f"""INSERT INTO handoff_handoff ({columns}{more})
                SELECT l.id, 1, s.state, l.owner_id, %(definition)s, 'rule', q.at, q.at,
                       CASE WHEN s.state IN ('accepted', 'converted') THEN q.at + interval '2 hours' END,
                       CASE WHEN s.state IN ('rejected', 'disputed') THEN q.at + interval '3 hours' END,
                       CASE WHEN s.state = 'disputed' THEN q.at + interval '5 hours' END,
                       CASE WHEN s.state IN ('accepted', 'converted') THEN q.at + interval '4 hours' END,
                       CASE WHEN s.state = 'converted' THEN q.at + interval '4 days' END,
                       CASE WHEN s.state = 'recycled' THEN q.at + interval '6 days' END,
                       CASE WHEN s.state = 'closed' THEN q.at + interval '8 days' END,
                       CASE WHEN s.state IN ('rejected', 'disputed') THEN %(reject)s::bigint END,
                       '', '', q.at, q.at{values}
                FROM handoff_lead l
                CROSS JOIN LATERAL (SELECT l.crm_created_at + interval '1 hour' AS at) q
                CROSS JOIN LATERAL (
                    SELECT (%(states)s::text[])[1 + mod(mod(l.id * 7919, 10007), {len(STATES)})] AS state) s
                WHERE {which} AND NOT EXISTS (SELECT 1 FROM handoff_handoff h WHERE h.lead_id = l.id)
                ORDER BY l.id""",
            {"definition": definition, "reject": reject, "states": STATES},
        )
        added = c.rowcount
        # The accept clock of every handoff (1 in 10 breached, the open ones still running), the first-touch clock
        # of the accepted ones; then one qualify event each. Which clock breached follows the lead, not the handoff's
        # id, so a handoff is breached or not whichever phase loaded it (loaded at 1M at once, the team's handoff ids
        # are its lead ids, all multiples of 20: by id, none of the team's would be). A clock still ticking past its
        # due time is flagged breached, as the SLA scan flags it within a minute in the running app: data with
        # clocks months overdue and never flagged is a state the app never shows, and it made `?breached=true`
        # lists read three times the rows to fill a page. A closed handoff's clock stopped when it closed.
        c.execute(
            """INSERT INTO handoff_milestone (handoff_id, kind, round, policy_id, segment, calendar_id, started_at,
                    window_seconds, due_at, met_at, breached_at, stopped_at, business_seconds_taken, paused_by,
                    attempts, attempts_required, created_at)
                SELECT h.id, 'accept', 1, %(policy)s, 'standard', %(calendar)s, h.handed_at, 86400,
                       h.handed_at + interval '1 day', coalesce(h.accepted_at, h.rejected_at),
                       CASE WHEN mod(mod(h.lead_id * 7919, 10007), 10) = 3
                                 OR (h.accepted_at IS NULL AND h.rejected_at IS NULL
                                     AND h.state NOT IN ('recycled', 'closed')
                                     AND h.handed_at + interval '1 day' <= statement_timestamp())
                            THEN h.handed_at + interval '1 day' END,
                       CASE WHEN h.state = 'recycled' THEN h.recycled_at WHEN h.state = 'closed' THEN h.closed_at END,
                       CASE WHEN coalesce(h.accepted_at, h.rejected_at) IS NOT NULL THEN 7200 END, '', 0, 1, h.handed_at
                FROM handoff_handoff h WHERE h.id > %(last)s
                UNION ALL
                SELECT h.id, 'first_touch', 1, %(policy)s, 'standard', %(calendar)s, h.accepted_at, 7200,
                       h.accepted_at + interval '2 hours', h.first_touch_at, NULL, NULL, 7200, '', 0, 1, h.accepted_at
                FROM handoff_handoff h WHERE h.id > %(last)s AND h.accepted_at IS NOT NULL""",
            {"policy": policy, "calendar": calendar, "last": last},
        )
        clocks_bulk_end(c)
        c.execute(
            """INSERT INTO handoff_handoffevent (handoff_id, lead_id, action, from_state, to_state, actor_kind, note,
                    definition_id, data, at)
                SELECT id, lead_id, 'qualify', '', 'qualified', 'rule', '', definition_id, '{}', qualified_at
                FROM handoff_handoff WHERE id > %(last)s""",
            {"last": last},
        )
        print(f"  {added:,} handoffs with their milestones and events in {time.perf_counter() - started:.1f} s",
              flush=True)
    started = time.perf_counter()
    with connection.cursor() as c:
        for table in ("handoff_lead", "handoff_handoff", "handoff_milestone", "handoff_handoffevent"):
            c.execute(f"VACUUM ANALYZE {table}")
    print(f"  VACUUM ANALYZE in {time.perf_counter() - started:.1f} s", flush=True)


def refresh_reports() -> None:
    """The report summary brought up to the data, as the app's refresh job keeps it (the rep's page shows a "My SLA"
    card served from it): rebuilt in full when it does not hold one fact per handoff (each here has one round)."""
    from handoff.models import Handoff, ReportFact
    from handoff.services.reports import report_facts_refresh

    if ReportFact.objects.count() == Handoff.objects.count():
        return
    started = time.perf_counter()
    report_facts_refresh(full=True)
    print(f"  report summary rebuilt in {time.perf_counter() - started:.1f} s", flush=True)


# ---------------------------------------------------------------------------------------------
# Measures
# ---------------------------------------------------------------------------------------------
def _session_cookie(user) -> str:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def targets(people: dict) -> list[tuple[str, str, str, str]]:
    """(group, label, path, header): what wrk asks, and as whom."""
    from rest_framework.authtoken.models import Token

    from handoff.models import Lead

    token = {who: f"Authorization: Token {Token.objects.get(user=people[who]).key}" for who in ("rep", "manager",
                                                                                               "marketer")}
    cookie = {who: f"Cookie: {_session_cookie(people[who])}" for who in ("rep", "manager", "marketer")}
    lead = Lead.objects.filter(owner=people["rep"]).order_by("-id").values_list("pk", flat=True).first()
    rep = people["rep"].pk
    return [
        ("yardstick", "trivial JsonResponse", "/bench/trivial/", ""),
        ("yardstick", "raw .values() list (50 rows)", f"/bench/raw/?owner={rep}", ""),
        ("api", "/api/leads/ rep", "/api/leads/", token["rep"]),
        ("api", "/api/leads/ manager", "/api/leads/", token["manager"]),
        ("api", "/api/leads/ marketer", "/api/leads/", token["marketer"]),
        ("api", "/api/handoffs/ rep", "/api/handoffs/", token["rep"]),
        ("api", "/api/handoffs/ rep state=accepted", "/api/handoffs/?state=accepted", token["rep"]),
        ("api", "/api/handoffs/ rep breached=true", "/api/handoffs/?breached=true", token["rep"]),
        ("api", "/api/handoffs/ manager", "/api/handoffs/", token["manager"]),
        ("api", "/api/handoffs/ manager state=qualified", "/api/handoffs/?state=qualified", token["manager"]),
        ("api", "/api/handoffs/ manager breached=true", "/api/handoffs/?breached=true", token["manager"]),
        ("api", "/api/handoffs/ marketer", "/api/handoffs/", token["marketer"]),
        ("page", "rep: My handoffs", "/my-handoffs/", cookie["rep"]),
        ("page", "manager: team page", "/team/", cookie["manager"]),
        ("page", "marketer: leads to qualify", "/qualify/", cookie["marketer"]),
        ("page", "lead page (rep)", f"/leads/{lead}/", cookie["rep"]),
    ]


class Server:
    """gunicorn with 2 sync workers serving bench/read_path_urls.py on a free port of 127.0.0.1."""

    def __init__(self, database_url: str):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        # Connections kept for the whole run, so the database's share of each request is counted on the same backends.
        env = {**_env(database_url), "DJANGO_SETTINGS_MODULE": "read_path_settings", "CONN_MAX_AGE": "3600"}
        self.database_url = database_url
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        self.process = subprocess.Popen(
            [gunicorn, "--workers", "2", "--bind", f"127.0.0.1:{self.port}", "--chdir", str(ROOT), "--pythonpath",
             str(BENCH), "--log-level", "warning", "--timeout", "120", "config.wsgi:application"],
            env=env,
        )
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{self.url}/bench/trivial/", timeout=2).read()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu(self) -> float:
        """CPU seconds used so far by the workers and their database backends (robust to a shared machine's load,
        unlike req/s: time spent waiting for a core is not counted)."""
        import psycopg

        master = self.process.pid
        workers = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        with psycopg.connect(self.database_url) as connection:
            backends = [row[0] for row in connection.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend'"
            )]
        total = 0
        for pid in [*workers, *backends]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


def _check(server: Server, path: str, header: str) -> str:
    """One request first: a benchmark of an error page measures nothing."""
    request = urllib.request.Request(server.url + path)
    if header:
        key, value = header.split(": ", 1)
        request.add_header(key, value)
    with urllib.request.urlopen(request, timeout=60) as response:
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status}")
    if path.startswith(("/api/", "/bench/raw")):
        return f"{len(json.loads(body)['results'])} rows"
    return f"{len(body) // 1024} KiB"


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def wrk(server: Server, path: str, header: str, seconds: int) -> dict:
    command = ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if header:
        command += ["-H", header]
    cpu = server.cpu()
    out = subprocess.run([*command, server.url + path], capture_output=True, text=True, check=True).stdout
    # wrk stops sending at the deadline, but the requests it left queued are still served: wait for them, or they
    # would be counted against the next measure.
    urllib.request.urlopen(f"{server.url}/bench/trivial/", timeout=300).read()
    cpu = server.cpu() - cpu
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if failed:
        raise RuntimeError(f"{path}: {failed.group(1)} responses were not 2xx\n{out}")
    if "Requests/sec" not in out or re.search(r"\s0 requests in", out):
        raise RuntimeError(f"{path}: no answer in {seconds} s\n{out}")
    served = int(re.search(r"(\d+) requests in", out).group(1)) + 1  # and the trivial one that waited
    return {
        "cpu_ms": cpu * 1000 / served,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _ms(re.search(r"\s50%\s+(\S+)", out).group(1)),
        "p99": _ms(re.search(r"\s99%\s+(\S+)", out).group(1)),
    }


RAW = "raw .values() list (50 rows)"


def measure(database_url: str, people: dict, seconds: int, only: str) -> dict[str, dict]:
    """Each target beside the raw list measured just before and just after it (the machine is shared: the load
    moves, and a load that changed during the target's run shows in both, where one measure before it could be
    off by a fifth)."""
    from django.db import connection

    connection.close()
    server = Server(database_url)
    results: dict[str, dict] = {}
    try:
        chosen = [t for t in targets(people) if only in ("all", t[0]) or t[0] == "yardstick"]
        print(f"  {'':40} {'throughput, share of raw':>24} | {'CPU per request, share':>22} | latency", flush=True)
        raw_path = next(path for _, label, path, _ in chosen if label == RAW)
        for group, label, path, header in chosen:
            size = _check(server, path, header)
            wrk(server, path, header, 2)  # warm both workers
            before = wrk(server, raw_path, "", max(seconds // 2, 2)) if group != "yardstick" else None
            results[label] = r = {"group": group, "size": size, **wrk(server, path, header, seconds)}
            if before is None:
                r["raw_rps"], r["raw_cpu_ms"] = r["rps"], r["cpu_ms"]
            else:
                after = wrk(server, raw_path, "", max(seconds // 2, 2))
                r["raw_rps"] = (before["rps"] + after["rps"]) / 2
                r["raw_cpu_ms"] = (before["cpu_ms"] + after["cpu_ms"]) / 2
            print(f"  {label:40} {r['rps']:7.1f} req/s {r['rps'] / r['raw_rps']:5.0%} | {r['cpu_ms']:5.1f} ms CPU "
                  f"{r['raw_cpu_ms'] / r['cpu_ms']:5.0%} | p50 {r['p50']:6.0f} ms p99 {r['p99']:6.0f} ms ({size})",
                  flush=True)
    finally:
        server.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/handoff_bench_read_path")
    parser.add_argument("--phases", default="200000,1000000",
                        help="handoff counts to measure at (a smaller one after a larger one takes rows out again)")
    parser.add_argument("--seconds", type=int, default=10, help="wrk's -d")
    parser.add_argument("--only", choices=["all", "api", "page"], default="all")
    parser.add_argument("--drop", action="store_true", help="drop the database and load it again")
    parser.add_argument("--load-only", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None and not args.load_only:
        sys.exit("wrk is not installed (apt-get install wrk)")

    _setup(args.database_url, drop=args.drop)
    from handoff.models import Handoff

    now = datetime.now(UTC).replace(microsecond=0)
    people = load_people()
    started = time.perf_counter()
    load_leads(people, now)
    by_phase = {}
    for phase in [int(p) for p in args.phases.split(",")]:
        load_handoffs(phase)
        refresh_reports()
        print(f"data ready in {time.perf_counter() - started:.1f} s: {Handoff.objects.count():,} handoffs, "
              f"the rep owns {Handoff.objects.filter(owner=people['rep']).count():,}, the team "
              f"{Handoff.objects.filter(owner__in=people['team']).count():,}", flush=True)
        if args.load_only:
            continue
        print(f"\n{phase:,} handoffs: gunicorn -w 2, wrk -t2 -c16 -d{args.seconds}s", flush=True)
        by_phase[phase] = measure(args.database_url, people, args.seconds, args.only)
        started = time.perf_counter()
    if len(by_phase) == 2:
        (small, a), (large, b) = sorted(by_phase.items())
        print(f"\nflatness: CPU per request (app + database) at {large:,} handoffs against {small:,}, each as a share "
              "of the raw list measured beside it")
        for label in a:
            if label in b and a[label]["group"] != "yardstick":
                share_a = a[label]["raw_cpu_ms"] / a[label]["cpu_ms"]
                share_b = b[label]["raw_cpu_ms"] / b[label]["cpu_ms"]
                print(f"  {label:40} {a[label]['cpu_ms']:5.1f} -> {b[label]['cpu_ms']:5.1f} ms, "
                      f"share {share_a:4.0%} -> {share_b:4.0%}  ({share_a / share_b - 1:+.0%} cost)")


if __name__ == "__main__":
    main()
