"""Benchmark the manager reports on PostgreSQL with a million handoffs, each figure beside the same aggregate written as
one raw SQL statement, in the same run.

Run by hand (PostgreSQL at 127.0.0.1:5432; the database is dropped and created):
  .venv/bin/python bench/reports_bench.py
  .venv/bin/python bench/reports_bench.py --handoffs 200000 --repeat 5

Loads --handoffs handoffs over 26 weeks, in the order they were handed over, for --reps reps in 5 teams: their leads
(7 sources), SLA clocks (accept, first touch, follow-up; met, breached, running, paused, stopped; a second round after
an overturned dispute), events (qualify, accept, reject, dispute, resolve, recycle) and feedback. Then:
  0. the report job's nightly rebuild of the summary from those tables, and a refresh after 10,000 changes;
  1. the last 4 weeks, all reps, grouped by rep (target <= 150 ms);
  2. one rep over 12 weeks (target <= 10 ms);
  3. the whole history grouped by week (target <= 1.5 s);
  4. the report page as a whole, HTML with its charts, for the 4-week view (target <= 300 ms);
each computed (right after a refresh retired every cached report) and cached (read again before the next refresh),
beside the raw SQL and the target; then what the job spends computing again the reports read lately.
`VACUUM ANALYZE` runs before the measures. The reports' cache is Redis (--redis-url), as in production.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta

from _support import clocks_bulk_begin, clocks_bulk_end, fresh_django  # noqa: E402

SOURCES = ["Web", "Demo Request", "Webinar", "Trade Show", "Partner Referral", "Purchased List", "Content Download"]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:9.1f} ms"


def _median(fn, repeat: int) -> float:
    fn()  # warm
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--handoffs", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/handoff_bench_reports")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12",
                        help="the cache the reports are kept in, as in production (empty: the file cache)")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the database a previous run loaded, without loading it again")
    args = parser.parse_args()

    environ = {"EMAIL_URL": "dummymail://", "ALLOWED_HOSTS": "testserver", "REDIS_URL": args.redis_url}
    if args.reuse:
        os.environ.update(DATABASE_URL=args.database_url, SECRET_KEY="bench",
                          DJANGO_SETTINGS_MODULE="config.settings.base", **environ)
        import django

        django.setup()
    else:
        fresh_django(args.database_url, **environ)
    from django.contrib.auth.models import Group, User
    from django.db import connection

    from handoff.models import (
        BusinessCalendar,
        FeedbackRequest,
        Handoff,
        HandoffEvent,
        Lead,
        LeadDefinition,
        LeadFeedback,
        Milestone,
        ReasonCode,
        ReportFact,
        RepProfile,
        SlaPolicy,
        Team,
    )
    from handoff.services.reports import report_facts_refresh

    t = {m.__name__: m._meta.db_table for m in (Lead, Handoff, HandoffEvent, Milestone, FeedbackRequest,
                                                  LeadFeedback, ReportFact, RepProfile)}
    now = datetime(2026, 3, 17, 0, 30, tzinfo=UTC)
    start = now - timedelta(weeks=26)
    if args.reuse:
        admin = User.objects.get(username="bench-admin")
        rep_ids = list(User.objects.filter(username__startswith="rep").order_by("pk").values_list("pk", flat=True))
        measure(args, now, start, admin, rep_ids, t)
        return
    policy = SlaPolicy.objects.get(is_active=True)
    policy.mql_targets = [{"team": f"Team {i}", "per_week": 7000} for i in range(5)]
    policy.min_acceptance_rate = "0.6"
    policy.save()
    calendar = BusinessCalendar.objects.get(is_default=True).pk
    v1 = LeadDefinition.objects.get(version=1)
    v2 = LeadDefinition.objects.create(version=2, name="Stricter", conditions=v1.conditions)
    rejects = list(ReasonCode.objects.filter(kind="reject").values_list("pk", flat=True))
    minutes = int((now - start).total_seconds() // 60) - 60

    started = time.perf_counter()
    teams = [Team.objects.create(name=f"Team {i}") for i in range(5)]
    reps = User.objects.bulk_create(User(username=f"rep{i:03}", email=f"rep{i:03}@example.com", password="!")
                                    for i in range(args.reps))
    Group.objects.get(name="sales_rep").user_set.add(*reps)
    RepProfile.objects.bulk_create(RepProfile(user=u, team=teams[i % 5]) for i, u in enumerate(reps))
    admin = User.objects.create(username="bench-admin", is_staff=True, password="!")
    rep_ids = [u.pk for u in reps]
    # States by i % 20: qualified 1, accepted 6, converted 3, rejected 2, disputed 1, recycled 6, closed 1; a
    # lead's 2nd MQL every 10th, 3rd every 30th; every 100th overturned (a second round, then accepted).
    with connection.cursor() as c:
        c.execute(
            f"""INSERT INTO {t['Lead']} (crm_id, first_name, last_name, email, company, title, country, industry,
                    lead_source, status, score, crm_owner_id, is_converted, is_deleted, raw, created_at, updated_at,
                    phone, mobile_phone)
                SELECT '00Qr' || lpad(i::text, 14, '0'), 'Ada', 'L', '', '', '', '', '',
                       (%(sources)s::text[])[1 + (i::bigint * 7919) %% 7], '', 60, '', false, false, '{{}}',
                       %(now)s, %(now)s, '', ''
                FROM generate_series(1, %(n)s) i""",
            {"n": args.handoffs, "now": now, "sources": SOURCES},
        )
        c.execute(
            f"""INSERT INTO {t['Handoff']} (lead_id, sequence, state, owner_id, definition_id, qualified_by_kind,
                    qualified_at, handed_at, accepted_at, rejected_at, disputed_at, resolved_at, first_touch_at,
                    first_connect_at, converted_at, recycled_at, reason_id, note, dispute_note, created_at,
                    updated_at)
                SELECT l.id, 1 + (l.id %% 10 = 0)::int + (l.id %% 30 = 0)::int, s.state,
                       CASE WHEN l.id %% 97 = 0 THEN NULL ELSE (%(reps)s::bigint[])[1 + (l.id * 31) %% %(nreps)s] END,
                       CASE WHEN q.at < %(half)s THEN %(v1)s ELSE %(v2)s END, 'rule', q.at, q.at,
                       CASE WHEN s.state IN ('accepted', 'converted') OR (s.state = 'recycled' AND l.id %% 2 = 0)
                            THEN q.at + (l.id %% 360) * interval '1 minute' END,
                       CASE WHEN s.state IN ('rejected', 'disputed') OR (s.state = 'recycled' AND l.id %% 2 = 1)
                            THEN q.at + (l.id %% 300) * interval '1 minute' END,
                       CASE WHEN s.state = 'disputed' OR l.id %% 100 = 5 THEN q.at + interval '6 hours' END,
                       CASE WHEN l.id %% 100 = 5 THEN q.at + interval '1 day' END,
                       CASE WHEN s.state IN ('accepted', 'converted') THEN q.at + interval '7 hours' END,
                       CASE WHEN s.state = 'converted' THEN q.at + interval '8 hours' END,
                       CASE WHEN s.state = 'converted' THEN q.at + interval '4 days' END,
                       CASE WHEN s.state = 'recycled' THEN q.at + interval '6 days' END,
                       CASE WHEN s.state IN ('rejected', 'disputed') THEN (%(rejects)s::bigint[])[1 + l.id %% %(nr)s]
                       END, '', '', q.at, q.at + interval '1 day'
                FROM {t['Lead']} l
                CROSS JOIN LATERAL (SELECT %(start)s + ((l.id * 104729) %% %(minutes)s) * interval '1 minute' AS at) q
                CROSS JOIN LATERAL (SELECT (ARRAY['qualified', 'accepted', 'accepted', 'accepted', 'accepted',
                    'accepted', 'converted', 'converted', 'converted', 'rejected', 'rejected', 'disputed',
                    'recycled', 'recycled', 'recycled', 'recycled', 'recycled', 'recycled', 'closed',
                    'accepted'])[1 + l.id %% 20] AS state) s
                ORDER BY q.at""",
            {"reps": rep_ids, "nreps": len(rep_ids), "half": start + (now - start) / 2, "v1": v1.pk, "v2": v2.pk,
             "rejects": rejects, "nr": len(rejects), "now": now, "start": start, "minutes": minutes},
        )
        clocks_bulk_begin(c)
        # Clocks: a standard lead's accept in 24 business hours (hot: 15 min), first touch in 2, follow-up in 56;
        # met in time, met late, running (due or not), paused or stopped, by the handoff's state and id.
        for kind, window, met in (
            ("accept", 86400, "h.state NOT IN ('qualified')"),
            ("first_touch", 7200, "h.state IN ('accepted', 'converted')"),
            ("follow_up", 201600, "h.state = 'converted' AND h.id %% 3 = 0"),
        ):
            c.execute(
                f"""INSERT INTO {t['Milestone']} (handoff_id, kind, round, policy_id, segment, calendar_id,
                        started_at, window_seconds, due_at, remind_at, met_at, breached_at, stopped_at,
                        business_seconds_taken, paused_at, paused_by, remaining_seconds, attempts,
                        attempts_required, connected_at, business_seconds_to_connect, created_at)
                    SELECT h.id, %(kind)s, 1, %(policy)s, CASE WHEN h.id %% 5 = 0 THEN 'hot' ELSE 'standard' END,
                           %(cal)s, h.qualified_at, %(w)s, h.qualified_at + %(w)s * interval '1 second', NULL,
                           CASE WHEN x.met THEN h.qualified_at + x.took * interval '1 second' END,
                           CASE WHEN x.took > %(w)s AND (x.met OR h.state IN ('qualified', 'accepted'))
                                THEN h.qualified_at + %(w)s * interval '1 second' END,
                           CASE WHEN NOT x.met AND h.state NOT IN ('qualified', 'accepted')
                                THEN coalesce(h.recycled_at, h.rejected_at, h.converted_at, h.qualified_at) END,
                           CASE WHEN x.met THEN x.took END,
                           CASE WHEN NOT x.met AND h.state = 'qualified' AND h.id %% 7 = 0 THEN h.qualified_at END,
                           CASE WHEN NOT x.met AND h.state = 'qualified' AND h.id %% 7 = 0 THEN 'flag' ELSE '' END,
                           NULL, 0, 1,
                           CASE WHEN %(kind)s = 'first_touch' AND x.met THEN h.qualified_at + interval '1 hour' END,
                           CASE WHEN %(kind)s = 'first_touch' AND x.met THEN x.took + 3600 END, h.qualified_at
                    FROM {t['Handoff']} h
                    CROSS JOIN LATERAL (SELECT (h.id * 7919 + %(salt)s) %% (%(w)s * 2) AS took, {met} AS met) x
                    ORDER BY h.qualified_at""",
                {"kind": kind, "w": window, "policy": policy.pk, "cal": calendar, "salt": len(kind)},
            )
        c.execute(
            f"""INSERT INTO {t['Milestone']} (handoff_id, kind, round, policy_id, segment, calendar_id, started_at,
                    window_seconds, due_at, met_at, business_seconds_taken, paused_by, attempts, attempts_required,
                    created_at)
                SELECT id, 'accept', 2, %(policy)s, 'standard', %(cal)s, resolved_at, 86400,
                       resolved_at + interval '1 day', resolved_at + interval '1 hour', 3600, '', 0, 1, resolved_at
                FROM {t['Handoff']} WHERE resolved_at IS NOT NULL""",
            {"policy": policy.pk, "cal": calendar},
        )
        clocks_bulk_end(c)
        c.execute(
            f"""INSERT INTO {t['HandoffEvent']} (handoff_id, lead_id, action, from_state, to_state, actor_kind,
                    actor_id, reason_id, note, definition_id, data, at)
                SELECT h.id, h.lead_id, e.action, e.from_state, e.to_state, e.actor_kind, h.owner_id, e.reason_id,
                       '', h.definition_id, e.data::jsonb, e.at
                FROM {t['Handoff']} h
                CROSS JOIN LATERAL (VALUES
                    ('qualify', '', 'qualified', 'rule', NULL::bigint, '{{}}', h.qualified_at),
                    ('accept', 'qualified', 'accepted', 'user', NULL, '{{}}', h.accepted_at),
                    ('reject', 'qualified', 'rejected', 'user', h.reason_id, '{{}}', h.rejected_at),
                    ('dispute', 'rejected', 'disputed', 'user', NULL, '{{}}', h.disputed_at),
                    ('resolve', 'disputed', 'qualified', 'user', NULL, '{{"decision": "overturn"}}', h.resolved_at),
                    ('recycle', 'accepted', 'recycled', 'user', NULL, '{{}}', h.recycled_at)
                ) AS e(action, from_state, to_state, actor_kind, reason_id, data, at)
                WHERE e.at IS NOT NULL
                ORDER BY e.at"""
        )
        c.execute(
            f"""INSERT INTO {t['FeedbackRequest']} (handoff_id, rater_id, point, point_at, asked_at, policy_id,
                    definition_id, qualified_at, lead_source, segment, reject_reason_id, digests, outcome,
                    outcome_at)
                SELECT h.id, h.owner_id, 'converted', h.qualified_at, h.qualified_at, %(policy)s, h.definition_id,
                       h.qualified_at, l.lead_source, 'standard', NULL, 1,
                       CASE WHEN h.id %% 3 = 0 THEN 'expired' ELSE 'answered' END, h.qualified_at
                FROM {t['Handoff']} h JOIN {t['Lead']} l ON l.id = h.lead_id
                WHERE h.owner_id IS NOT NULL AND h.state IN ('converted', 'rejected', 'recycled')
                ORDER BY h.qualified_at""",
            {"policy": policy.pk},
        )
        c.execute(
            f"""INSERT INTO {t['LeadFeedback']} (request_id, handoff_id, rater_id, rating, note, definition_id,
                    policy_id, given_at, changed_at, revision)
                SELECT id, handoff_id, rater_id, 1 + id %% 5, '', definition_id, policy_id, asked_at, asked_at, 1
                FROM {t['FeedbackRequest']} WHERE outcome = 'answered'""",
            {},
        )
    counts = {"handoffs": Handoff.objects.count(), "clocks": Milestone.objects.count(),
              "events": HandoffEvent.objects.count(), "feedback requests": FeedbackRequest.objects.count()}
    print(f"loaded {', '.join(f'{v:,} {k}' for k, v in counts.items())} in {time.perf_counter() - started:.0f} s")

    print("\n0. the report job")
    t0 = time.perf_counter()
    rebuilt = report_facts_refresh(full=True, now=now)
    print(f"   nightly rebuild of the summary (every handoff)  {time.perf_counter() - t0:8.1f} s   "
          f"{rebuilt.rounds:,} rounds, {rebuilt.disputes:,} disputes")
    with connection.cursor() as c:
        c.execute("VACUUM ANALYZE")
        c.execute(f"UPDATE {t['Handoff']} SET updated_at = %s WHERE id IN (SELECT id FROM {t['Handoff']} "
                  "ORDER BY qualified_at DESC LIMIT 10000)", [now + timedelta(minutes=1)])
    t0 = time.perf_counter()
    refreshed = report_facts_refresh(now=now + timedelta(minutes=2))
    print(f"   refresh after 10,000 handoffs changed           {_ms(time.perf_counter() - t0)}   "
          f"{refreshed.rounds:,} rounds")
    report_facts_refresh(now=now + timedelta(minutes=20))  # the last to read them again (the overlap)
    t0 = time.perf_counter()
    report_facts_refresh(now=now + timedelta(minutes=40))
    print(f"   refresh with nothing changed since             {_ms(time.perf_counter() - t0)}")
    with connection.cursor() as c:
        c.execute("VACUUM ANALYZE")
    measure(args, now, start, admin, rep_ids, t)


def measure(args, now: datetime, start: datetime, admin, rep_ids: list[int], t: dict[str, str]) -> None:
    from django.conf import settings
    from django.db import connection, transaction
    from django.test import Client, override_settings

    from handoff.models import ReportRefresh
    from handoff.selectors.reports import ReportQuery, report, report_scope, reports_warm

    scope = report_scope(admin)
    today = (now - timedelta(hours=1)).date()
    monday = today - timedelta(days=today.weekday())
    fact = t["ReportFact"]
    profile = t["RepProfile"]

    def raw(group: str | None, where: str, params: dict) -> None:
        """The report's figures as one statement: the groups (none when grouped by week), the weeks and the total
        (GROUPING SETS)."""
        sets = "(1), (2), ()" if group else "(2), ()"
        group = group or "NULL::bigint"
        clocks = []
        for kind in ("accept", "first_touch", "follow_up"):
            clocks.append(f"count(*) FILTER (WHERE f.{kind}_status = 1)")
            clocks.append(f"count(*) FILTER (WHERE f.{kind}_status = 2 OR (f.{kind}_status = 3 "
                          f"AND f.{kind}_due_at <= %(as_of)s))")
        times = [f"percentile_cont({p}) WITHIN GROUP (ORDER BY f.{column})"
                 for column in ("accept_seconds", "first_touch_seconds", "connect_seconds") for p in (0.5, 0.9)]
        with transaction.atomic(), connection.cursor() as c:
            c.execute("SET LOCAL jit = off")  # as the report runs
            c.execute("SET LOCAL work_mem = '64MB'")
            c.execute(
                f"""SELECT {group}, date_trunc('week', f.qualified_at AT TIME ZONE 'UTC'), count(*) FILTER (WHERE
                           f.round = 1), count(*) FILTER (WHERE f.accepted), count(*) FILTER (WHERE f.rejected),
                           count(*) FILTER (WHERE f.converted), count(*) FILTER (WHERE f.recycled),
                           {', '.join(clocks)}, {', '.join(times)}
                    FROM {fact} f LEFT JOIN {profile} p ON p.user_id = f.owner_id
                    WHERE f.qualified_at >= %(lo)s AND f.qualified_at < %(hi)s {where}
                    GROUP BY GROUPING SETS ({sets})""",
                {**params, "as_of": now},
            )
            c.fetchall()

    def bounds(first: date, last: date) -> dict:
        return {"lo": datetime.combine(first, datetime.min.time(), tzinfo=UTC),
                "hi": datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=UTC)}

    four = ReportQuery(start=monday - timedelta(weeks=3), end=today, group_by="rep")
    rep = rep_ids[7]
    twelve = ReportQuery(start=monday - timedelta(weeks=11), end=today, group_by="week", rep=rep)
    everything = ReportQuery(start=start.date(), end=today, preset="custom", group_by="week")
    measures = [
        ("1. the last 4 weeks, all reps, grouped by rep", "150 ms", 0.150, four, "f.owner_id", "", {}),
        ("2. one rep over 12 weeks, by week", "10 ms", 0.010, twelve, None, "AND f.owner_id = %(rep)s", {"rep": rep}),
        ("3. the whole history, grouped by week", "1.5 s", 1.5, everything, None, "", {}),
    ]

    ReportRefresh.objects.update(refreshed_at=now)  # the figures as of the time the data were made for

    def refreshed() -> None:
        """What a refresh does to the cache: a new generation of the summary, so no cached report is found."""
        ReportRefresh.objects.update(generation=uuid.uuid4().hex)

    def cold(q: ReportQuery) -> None:
        refreshed()
        report(scope=scope, query=q)

    print(f"\nmedians of {args.repeat} runs; 'computed': a refresh just retired every cached report; 'cached': read "
          "again before the next refresh (the job computes the reports read lately again after each refresh)")
    print(f"   {'':44} {'computed':>10} {'cached':>10} {'raw SQL':>10} {'target':>8}")
    for title, target, limit, query, group, where, params in measures:
        computed = _median(lambda q=query: cold(q), args.repeat)
        result = report(scope=scope, query=query)
        cached = _median(lambda q=query: report(scope=scope, query=q), args.repeat)
        base = _median(lambda g=group, w=where, p=params, q=query: raw(g, w, {**p, **bounds(q.start, q.end)}),
                       args.repeat)
        print(f"   {title:44} {_ms(computed)} {_ms(cached)} {_ms(base)} {'<= ' + target:>8}  "
              f"{'met' if cached <= limit else 'NOT met'} cached, {'met' if computed <= limit else 'not met'} "
              f"computed; {result.total.handoffs:,} handoffs, {len(result.groups)} groups, {len(result.weeks)} weeks")

    client = Client()
    client.force_login(admin)
    path = f"/reports/?period=custom&start={four.start}&end={four.end}&group_by=rep"
    # The pages' static files as `make run` serves them (no collected manifest here).
    with override_settings(STORAGES={**settings.STORAGES, "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}):
        assert client.get(path).status_code == 200

        def page_cold() -> None:
            refreshed()
            client.get(path)

        computed = _median(page_cold, args.repeat)
        cached = _median(lambda: client.get(path), args.repeat)
    title = "4. the report page, HTML with its charts"
    print(f"   {title:44} {_ms(computed)} {_ms(cached)} {'':>10} {'<= 300 ms':>8}  "
          f"{'met' if cached <= 0.3 else 'NOT met'} cached, {'met' if computed <= 0.3 else 'not met'} computed; "
          f"GET {path}")
    # What the job adds to each refresh: computing again the reports read lately (here the four above).
    refreshed()
    t0 = time.perf_counter()
    warmed = reports_warm()
    print(f"\n   the job after a refresh: {warmed} reports read lately computed again in "
          f"{time.perf_counter() - t0:.2f} s")

if __name__ == "__main__":
    main()
