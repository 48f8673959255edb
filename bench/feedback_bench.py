"""Benchmark sales feedback on PostgreSQL with a million handoffs, each figure beside the raw SQL doing the same work.

Run by hand (PostgreSQL at 127.0.0.1:5432; the database is dropped, created and loaded, a few minutes):
  .venv/bin/python bench/feedback_bench.py
  .venv/bin/python bench/feedback_bench.py --handoffs 200000 --reached 20000
  .venv/bin/python bench/feedback_bench.py --reuse     # measure the database a previous run loaded (migrated first)

Loads --handoffs handoffs of --reps reps over 26 weeks (lead sources, two definition versions, an accept clock each,
the reject events) and the feedback of their past: a request for every rejected, converted and recycled handoff,
answered, expired, pending or withdrawn, with ratings and reasons. What the measures change is kept in `bench_saved_*`
tables and put back before each, so every measure (and a --reuse run) starts from the same state. Each line prints
the figure, the raw SQL doing the same work in the same run, their ratio, and the target:
  1. --reached handoffs reaching a feedback point at once (target <= 2 s): rejected ones the state machine noted,
     accepted ones whose fifth business day starts, and both in one run; feedback_requests_create() vs the raw
     INSERT … SELECT (and the queue's DELETE), transaction and commit included, median of --rounds;
  2. a re-run with nothing to do (target <= 10 ms): the job vs the raw look at the queue and the scan row;
  3. the digest of --reps reps in four zones (target <= 2 s built): feedback_digests_create() vs the raw INSERT,
     UPDATEs and read of what the mails list; feedback_digests_send() (every mail composed, handed to the mail
     backend, each delivery recorded) vs a floor: the same links signed into plain-text mails, one send_messages;
  4. the marketer's lead quality page over 26 weeks (target <= 200 ms): lead_quality() vs the same two reads.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from _support import clocks_bulk_begin, clocks_bulk_end, fresh_django  # noqa: E402

SOURCES = ["Web", "Demo Request", "Webinar", "Trade Show", "Partner Referral", "Purchased List", "Content Download"]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:9.2f} ms"


def figure(label: str, measured: float, raw: float | None, target: float | None, note: str = "") -> None:
    """One line: the figure, its raw SQL baseline of the same run and their ratio, the target and whether it holds."""
    ratio = f"{measured / raw:5.2f}x" if raw else "      "
    raw_text = _ms(raw) if raw is not None else " " * 12
    held = "" if target is None else ("ok " if measured <= target else "NOT") + f" <= {_ms(target).strip()}"
    print(f"   {label:<62} {_ms(measured)}  raw {raw_text}  {ratio}  {held:<16} {note}")


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
    parser.add_argument("--reached", type=int, default=100_000, help="handoffs reaching a point at once")
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--pending-per-rep", type=int, default=5, help="requests each rep's digest lists")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the bulk measures (median)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/handoff_bench_feedback")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the database a previous run loaded (migrated to the current schema first)")
    args = parser.parse_args()

    if args.reuse:
        os.environ.update(DATABASE_URL=args.database_url, SECRET_KEY="bench", EMAIL_URL="dummymail://",
                          DJANGO_SETTINGS_MODULE="config.settings.base")
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    else:
        fresh_django(args.database_url, EMAIL_URL="dummymail://")
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.core import signing
    from django.core.mail import EmailMultiAlternatives, get_connection
    from django.db import connection, transaction
    from django.urls import reverse

    from handoff.models import (
        BusinessCalendar,
        FeedbackDigest,
        FeedbackPointReached,
        FeedbackReasonTally,
        FeedbackRequest,
        FeedbackScan,
        FeedbackTally,
        Handoff,
        HandoffEvent,
        Lead,
        LeadDefinition,
        LeadFeedback,
        Milestone,
        ReasonCode,
        RepProfile,
        SlaPolicy,
    )
    from handoff.selectors.calendars import calendars_load
    from handoff.selectors.quality import lead_quality
    from handoff.services import jobs
    from handoff.services.feedback import (
        LINK_SALT,
        accept_cutoff,
        feedback_digests_create,
        feedback_digests_send,
        feedback_requests_create,
        feedback_tallies_rebuild,
    )

    jobs._send = lambda task_name: None  # the sender is not what is measured

    t = {m.__name__: m._meta.db_table for m in (Lead, Handoff, HandoffEvent, Milestone, FeedbackRequest,
                                                  LeadFeedback, FeedbackPointReached, FeedbackDigest, FeedbackScan,
                                                  FeedbackTally, FeedbackReasonTally)}
    through = LeadFeedback.reasons.through._meta.db_table
    policy = SlaPolicy.objects.get(is_active=True).pk
    calendar = BusinessCalendar.objects.get(is_default=True)
    cal = calendars_load([calendar.pk])[calendar.pk]
    v1 = LeadDefinition.objects.get(version=1)
    # Tuesday 00:30 UTC: the day the handoffs accepted the Tuesday before reach their fifth business day.
    now = datetime(2026, 3, 17, 0, 30, tzinfo=UTC)
    start = now - timedelta(weeks=26)
    cutoff, previous = accept_cutoff(now, 5, cal), accept_cutoff(now - timedelta(days=1), 5, cal)
    zones = ["America/New_York", "Europe/Berlin", "UTC", "Asia/Tokyo"]
    n, reached = args.handoffs, args.reached
    if not args.reuse:
        v2 = LeadDefinition.objects.create(version=2, name="Stricter", conditions=v1.conditions)
        reject_reasons = list(ReasonCode.objects.filter(kind="reject", requires_note=False)
                              .values_list("pk", flat=True))
        quality = list(ReasonCode.objects.filter(kind="feedback", is_market_signal=False, requires_note=False)
                       .values_list("pk", flat=True))
        signals = list(ReasonCode.objects.filter(kind="feedback", is_market_signal=True).values_list("pk", flat=True))

        started = time.perf_counter()
        rep_group = Group.objects.get(name="sales_rep")
        reps = User.objects.bulk_create(User(username=f"rep{i:03}", email=f"rep{i:03}@example.com", password="!")
                                        for i in range(args.reps))
        rep_group.user_set.add(*reps)
        # The reps work by the default calendar while requests are measured (one cut-off for every acceptance);
        # for the digests they are spread over four offices, one per zone (see 3.).
        RepProfile.objects.bulk_create(RepProfile(user=u) for u in reps)
        rep_ids = [u.pk for u in reps]
        minutes = int((now - start).total_seconds() // 60) - 60 * 24 * 8
        with connection.cursor() as cursor:
            cursor.execute(
                f"""INSERT INTO {t['Lead']} (crm_id, first_name, last_name, email, company, title, country, industry,
                        lead_source, status, score, crm_owner_id, is_converted, is_deleted, raw, created_at, updated_at)
                    SELECT '00Qbench' || lpad(i::text, 10, '0'), 'Ada', 'Lovelace ' || i, 'ada@example.com',
                           'Engines ' || (i %% 5000), '', 'GB', '', (%(sources)s::text[])[1 + (i::bigint * 7919) %% 7],
                           'Open - Not Contacted', 60, '', false, false, '{{}}', %(now)s, %(now)s
                    FROM generate_series(1, %(n)s) AS i""",
                {"n": n, "now": now, "sources": SOURCES},
            )
            # States by i % 10: rejected 2, converted 1, recycled 3, accepted 3, qualified 1. Spread over 26 weeks
            # (the first half judged by v1); the last `reached` rejected ones and accepted ones are the fresh batch.
            cursor.execute(
                f"""INSERT INTO {t['Handoff']} (lead_id, sequence, state, owner_id, definition_id, qualified_by_kind,
                        qualified_at, handed_at, accepted_at, rejected_at, converted_at, recycled_at, reason_id, note,
                        dispute_note, created_at, updated_at)
                    SELECT l.id, 1, s.state, (%(reps)s::bigint[])[1 + (l.id / 10) %% %(nreps)s],
                           CASE WHEN q.at < %(half)s THEN %(v1)s ELSE %(v2)s END, 'rule', q.at, q.at,
                           CASE WHEN s.state IN ('accepted', 'converted', 'recycled')
                                THEN q.at + interval '2 hours' END,
                           CASE WHEN s.state = 'rejected' THEN q.at + interval '3 hours' END,
                           CASE WHEN s.state = 'converted' THEN q.at + interval '4 days' END,
                           CASE WHEN s.state = 'recycled' THEN q.at + interval '6 days' END,
                           CASE WHEN s.state = 'rejected' THEN (%(reasons)s::bigint[])[1 + l.id %% %(nreasons)s] END,
                           '', '', %(now)s, %(now)s
                    FROM {t['Lead']} l
                    CROSS JOIN LATERAL (
                        SELECT %(start)s + ((l.id * 104729) %% %(minutes)s) * interval '1 minute' AS at) q
                    CROSS JOIN LATERAL (SELECT (ARRAY['rejected','rejected','converted','recycled','recycled',
                        'recycled','accepted','accepted','accepted','qualified'])[1 + l.id %% 10] AS state) s""",
                {"reps": rep_ids, "nreps": len(rep_ids), "half": start + (now - start) / 2, "v1": v1.pk, "v2": v2.pk,
                 "reasons": reject_reasons, "nreasons": len(reject_reasons), "now": now, "start": start,
                 "minutes": minutes},
            )
            clocks_bulk_begin(cursor)
            cursor.execute(
                f"""INSERT INTO {t['Milestone']} (handoff_id, kind, round, policy_id, segment, calendar_id, started_at,
                        window_seconds, due_at, paused_by, attempts, attempts_required, created_at)
                    SELECT id, 'accept', 1, %(policy)s, CASE WHEN id %% 5 = 0 THEN 'hot' ELSE 'standard' END,
                           %(calendar)s, qualified_at, 86400, qualified_at + interval '1 day', '', 0, 1, qualified_at
                    FROM {t['Handoff']}""",
                {"policy": policy, "calendar": calendar.pk},
            )
            clocks_bulk_end(cursor)
            cursor.execute(
                f"""INSERT INTO {t['HandoffEvent']} (handoff_id, lead_id, action, from_state, to_state, actor_kind,
                        actor_id, reason_id, note, definition_id, data, at)
                    SELECT id, lead_id, 'reject', 'qualified', 'rejected', 'user', owner_id, reason_id, '',
                           definition_id, '{{}}', rejected_at
                    FROM {t['Handoff']} WHERE state = 'rejected'"""
            )
            # The fresh batch: the newest `reached` rejected handoffs were rejected a moment ago, noted by the state
            # machine; as many accepted handoffs were accepted on the day whose fifth business day starts now.
            cursor.execute(
                f"""CREATE TEMP TABLE fresh_rejected AS
                    SELECT id FROM {t['Handoff']} WHERE state = 'rejected' ORDER BY id DESC LIMIT %(k)s""",
                {"k": reached},
            )
            cursor.execute(
                f"""UPDATE {t['Handoff']} h SET rejected_at = %(now)s - interval '5 minutes',
                        qualified_at = %(now)s - interval '1 hour' - (h.id %% 4320) * interval '1 minute',
                        handed_at = %(now)s - interval '1 hour' - (h.id %% 4320) * interval '1 minute'
                    FROM fresh_rejected f WHERE h.id = f.id""",
                {"now": now},
            )
            cursor.execute(
                f"""CREATE TEMP TABLE fresh_accepted AS
                    SELECT id FROM {t['Handoff']} WHERE state = 'accepted' ORDER BY id DESC LIMIT %(k)s""",
                {"k": reached},
            )
            cursor.execute(
                f"""UPDATE {t['Handoff']} h SET accepted_at = %(previous)s + (h.id %% 86000) * interval '1 second',
                        qualified_at = %(previous)s - (h.id %% 2880) * interval '1 minute',
                        handed_at = %(previous)s - (h.id %% 2880) * interval '1 minute'
                    FROM fresh_accepted f WHERE h.id = f.id""",
                {"previous": previous},
            )
            # The past's feedback: a request per rejected, converted and recycled handoff (the fresh ones excepted).
            cursor.execute(
                f"""INSERT INTO {t['FeedbackRequest']} (handoff_id, rater_id, point, point_at, asked_at, policy_id,
                        definition_id, qualified_at, lead_source, segment, reject_reason_id, digests, outcome,
                        outcome_at)
                    SELECT h.id, h.owner_id,
                           CASE h.state WHEN 'rejected' THEN 'rejected' WHEN 'converted' THEN 'converted'
                                        ELSE 'recycled' END,
                           coalesce(h.rejected_at, h.converted_at, h.recycled_at),
                           coalesce(h.rejected_at, h.converted_at, h.recycled_at) + interval '10 minutes', %(policy)s,
                           h.definition_id, h.qualified_at, l.lead_source,
                           CASE WHEN h.id %% 5 = 0 THEN 'hot' ELSE 'standard' END, h.reason_id,
                           CASE WHEN o.k < 11 OR o.k BETWEEN 17 AND 18 THEN 1 ELSE 2 END,
                           CASE WHEN o.k < 11 THEN 'answered' WHEN o.k < 17 THEN 'expired'
                                WHEN o.k < 19 THEN 'pending' ELSE 'withdrawn' END,
                           coalesce(h.rejected_at, h.converted_at, h.recycled_at) + interval '1 day'
                    FROM {t['Handoff']} h JOIN {t['Lead']} l ON l.id = h.lead_id
                    -- the outcome, independent of the state and the rep
                    CROSS JOIN LATERAL (SELECT ((h.id * 2654435761) %% 4294967296) %% 20 AS k) o
                    WHERE h.state IN ('rejected', 'converted', 'recycled')
                      AND h.id NOT IN (SELECT id FROM fresh_rejected)""",
                {"policy": policy},
            )
            # Pending requests older than a digest would have expired: only --pending-per-rep stay open per rep.
            cursor.execute(
                f"""UPDATE {t['FeedbackRequest']} r SET outcome = 'expired' FROM (
                        SELECT id, row_number() OVER (PARTITION BY rater_id ORDER BY id DESC) AS k
                        FROM {t['FeedbackRequest']} WHERE outcome = 'pending') p
                    WHERE r.id = p.id AND p.k > %(keep)s""",
                {"keep": args.pending_per_rep},
            )
            cursor.execute(
                f"""INSERT INTO {t['LeadFeedback']} (request_id, handoff_id, rater_id, rating, note, definition_id,
                        policy_id, given_at, changed_at, revision)
                    SELECT id, handoff_id, rater_id,
                           1 + ((id * 31 + CASE point WHEN 'converted' THEN 3 WHEN 'recycled' THEN 1 ELSE 0 END) %% 5),
                           '', definition_id, policy_id, outcome_at, outcome_at, 1
                    FROM {t['FeedbackRequest']} WHERE outcome = 'answered'""",
                {},
            )
            cursor.execute(
                f"""INSERT INTO {through} (leadfeedback_id, reasoncode_id)
                    SELECT f.id, (%(quality)s::bigint[])[1 + f.id %% %(nq)s] FROM {t['LeadFeedback']} f
                    UNION ALL
                    SELECT f.id, (%(signals)s::bigint[])[1 + f.id %% %(ns)s] FROM {t['LeadFeedback']} f
                    WHERE f.id %% 5 = 0""",
                {"quality": quality, "nq": len(quality), "signals": signals, "ns": len(signals)},
            )
            # As the state machine's listener writes them: what the request copies, read from the handoff, its lead
            # and its accept clock in the reject's transaction.
            cursor.execute(
                f"""INSERT INTO {t['FeedbackPointReached']} (handoff_id, rater_id, point, reached_at, definition_id,
                        policy_id, qualified_at, lead_source, segment, reject_reason_id)
                    SELECT h.id, h.owner_id, 'rejected', h.rejected_at, h.definition_id, m.policy_id, h.qualified_at,
                           l.lead_source, m.segment, h.reason_id
                    FROM {t['Handoff']} h JOIN fresh_rejected f ON f.id = h.id JOIN {t['Lead']} l ON l.id = h.lead_id
                    JOIN {t['Milestone']} m ON m.handoff_id = h.id AND m.kind = 'accept' AND m.round = 1"""
            )
            # What the measures change, kept so that a later run (--reuse) starts from the same state.
            cursor.execute(f"DROP TABLE IF EXISTS bench_saved_queue; "
                           f"CREATE TABLE bench_saved_queue AS SELECT * FROM {t['FeedbackPointReached']}")
            cursor.execute(f"""DROP TABLE IF EXISTS bench_saved_pending;
                CREATE TABLE bench_saved_pending AS SELECT id, digests, last_digest_on, outcome, outcome_at
                FROM {t['FeedbackRequest']} WHERE outcome = 'pending'""")
            # The job ran yesterday: it has looked at acceptances up to yesterday's cut-off.
            FeedbackScan.objects.create(calendar=calendar, business_days=5, accepted_before=previous,
                                        checked_at=now - timedelta(days=1))
        tallied = feedback_tallies_rebuild()  # the history's counts, as the services would have kept them
        with connection.cursor() as cursor:
            for table in ("FeedbackTally", "FeedbackReasonTally"):
                cursor.execute(f"DROP TABLE IF EXISTS bench_saved_{table}; "
                               f"CREATE TABLE bench_saved_{table} AS SELECT * FROM {t[table]}")
            cursor.execute("VACUUM ANALYZE")
        counts = {
            "handoffs": Handoff.objects.count(),
            "requests": FeedbackRequest.objects.count(),
            "feedback": LeadFeedback.objects.count(),
            "reasons given": LeadFeedback.reasons.through.objects.count(),
        }
        print(f"loaded {', '.join(f'{v:,} {k}' for k, v in counts.items())} in {time.perf_counter() - started:.1f} s "
              f"({tallied[0]:,} + {tallied[1]:,} tally rows)")

    def reset_fresh() -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {t['FeedbackRequest']} WHERE asked_at = %s", [now])
            cursor.execute(f"DELETE FROM {t['FeedbackPointReached']}")
            cursor.execute(f"INSERT INTO {t['FeedbackPointReached']} SELECT * FROM bench_saved_queue")
            cursor.execute(f"UPDATE {t['FeedbackScan']} SET accepted_before = %s, checked_at = %s",
                           [previous, now - timedelta(days=1)])
            for table in ("FeedbackTally", "FeedbackReasonTally"):
                cursor.execute(f"DELETE FROM {t[table]}")
                cursor.execute(f"INSERT INTO {t[table]} SELECT * FROM bench_saved_{table}")
            cursor.execute(f"VACUUM ANALYZE {t['FeedbackRequest']}, {t['FeedbackPointReached']}, "
                           f"{t['FeedbackTally']}, {t['FeedbackReasonTally']}")

    def reset_digests() -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {t['FeedbackDigest']}")
            cursor.execute(f"""UPDATE {t['FeedbackRequest']} r SET digests = s.digests,
                                   last_digest_on = s.last_digest_on, outcome = s.outcome, outcome_at = s.outcome_at
                               FROM bench_saved_pending s WHERE r.id = s.id""")

    def offices_close() -> None:
        """Back to the default calendar for everyone (the request job's measures look at one calendar)."""
        RepProfile.objects.update(calendar=None)
        BusinessCalendar.objects.filter(name__startswith="Office ").delete()

    if args.reuse:
        offices_close()
        reset_digests()
        reset_fresh()

    raw_rejected = f"""
        INSERT INTO {t['FeedbackRequest']} (handoff_id, rater_id, point, point_at, asked_at, policy_id,
            definition_id, qualified_at, lead_source, segment, reject_reason_id, digests, outcome)
        SELECT q.handoff_id, q.rater_id, q.point, q.reached_at, %(now)s, q.policy_id, q.definition_id,
               q.qualified_at, q.lead_source, q.segment, q.reject_reason_id, 0, 'pending'
        FROM {t['FeedbackPointReached']} q
        ORDER BY q.handoff_id
        ON CONFLICT (handoff_id, rater_id) DO NOTHING"""
    raw_accepted = f"""
        INSERT INTO {t['FeedbackRequest']} (handoff_id, rater_id, point, point_at, asked_at, policy_id,
            definition_id, qualified_at, lead_source, segment, reject_reason_id, digests, outcome)
        SELECT h.id, h.owner_id, 'accepted', %(cutoff)s, %(now)s, m.policy_id, h.definition_id, h.qualified_at,
               l.lead_source, m.segment, NULL, 0, 'pending'
        FROM {t['Handoff']} h JOIN {t['Lead']} l ON l.id = h.lead_id
        JOIN {t['Milestone']} m ON m.handoff_id = h.id AND m.kind = 'accept' AND m.round = 1
        WHERE h.state = 'accepted' AND h.accepted_at >= %(previous)s AND h.accepted_at < %(cutoff)s
        ORDER BY h.id
        ON CONFLICT (handoff_id, rater_id) DO NOTHING"""

    print(f"\n1. {reached:,} handoffs reach a feedback point at once (target <= 2 s; median of {args.rounds} rounds, "
          "each measure from the same state, the job and its raw SQL in turn)")

    def job(prepare) -> tuple[float, int]:
        reset_fresh()
        prepare()
        t0 = time.perf_counter()
        created = feedback_requests_create(now=now).created
        return time.perf_counter() - t0, created

    def raw_sql(statements) -> tuple[float, int]:
        """The statements in one transaction, its commit included (as the job's)."""
        reset_fresh()
        rows = 0
        t0 = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            for statement, params in statements:
                cursor.execute(statement, params)
                rows += max(cursor.rowcount, 0) if statement.lstrip().startswith("INSERT") else 0
        return time.perf_counter() - t0, rows

    def only_queue() -> None:  # the day's acceptances already looked at
        FeedbackScan.objects.update(accepted_before=cutoff)

    def only_accepted() -> None:  # nothing in the queue
        FeedbackPointReached.objects.all().delete()

    rejected_raw = [(raw_rejected, {"now": now}), (f"DELETE FROM {t['FeedbackPointReached']}", None)]
    accepted_raw = [(raw_accepted, {"now": now, "cutoff": cutoff, "previous": previous})]
    cases = [
        (f"{reached:,} rejected (the state machine's queue)", only_queue, rejected_raw),
        (f"{reached:,} accepted {5} business days ago (range on accepted_at)", only_accepted, accepted_raw),
        ("both at once (one run of the job)", lambda: None, rejected_raw + accepted_raw),
    ]
    for label, prepare, statements in cases:
        jobs_runs, raw_runs = [], []
        for _ in range(args.rounds):
            jobs_runs.append(job(prepare))
            raw_runs.append(raw_sql(statements))
        figure(label, statistics.median(t for t, _ in jobs_runs), statistics.median(t for t, _ in raw_runs), 2.0,
               f"created {jobs_runs[0][1]:,}, raw {raw_runs[0][1]:,}")

    print(f"\n2. a re-run with nothing to do (median of {args.repeat}; target <= 10 ms)")
    reset_fresh()
    feedback_requests_create(now=now)  # the run that did the work: what follows finds nothing new
    engine = _median(lambda: feedback_requests_create(now=now), args.repeat)

    def raw_nothing() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT id FROM {t['FeedbackPointReached']} WHERE reached_at <= %s ORDER BY id "
                           "LIMIT 10000 FOR UPDATE SKIP LOCKED", [now])
            cursor.execute(f"SELECT accepted_before FROM {t['FeedbackScan']} FOR UPDATE SKIP LOCKED")

    raw = _median(raw_nothing, args.repeat)
    figure("feedback_requests_create (raw: the queue and the scan row, locked)", engine, raw, 0.010)

    print(f"\n3. the digest of {args.reps} reps, {args.pending_per_rep} requests each (target <= 2 s built)")
    reset_fresh()  # the fresh batch would list a thousand leads a rep: back to the history's open requests
    FeedbackPointReached.objects.all().delete()
    with transaction.atomic(), connection.cursor() as cursor:
        t0 = time.perf_counter()
        cursor.execute(
            f"""INSERT INTO {t['FeedbackDigest']} (rater_id, day, listed, status, recipients, attempts,
                    next_attempt_at, last_error, created_at)
                SELECT DISTINCT rater_id, '2026-03-18'::date, 0, 'pending', '', 0, %(now)s, '', %(now)s
                FROM {t['FeedbackRequest']} WHERE outcome = 'pending' ON CONFLICT DO NOTHING""",
            {"now": now},
        )
        cursor.execute(f"UPDATE {t['FeedbackRequest']} SET outcome = 'expired' WHERE outcome = 'pending' "
                       "AND digests >= 2")
        cursor.execute(f"UPDATE {t['FeedbackRequest']} SET digests = digests + 1, last_digest_on = '2026-03-18' "
                       "WHERE outcome = 'pending'")
        cursor.execute(
            f"""SELECT r.id, r.rater_id, u.email, l.first_name, l.last_name, l.company, r.lead_source, r.point
                FROM {t['FeedbackRequest']} r JOIN {t['Handoff']} h ON h.id = r.handoff_id
                JOIN {t['Lead']} l ON l.id = h.lead_id JOIN auth_user u ON u.id = r.rater_id
                WHERE r.outcome = 'pending' AND r.last_digest_on = '2026-03-18'"""
        )
        listed_rows = cursor.fetchall()
        raw = time.perf_counter() - t0
        transaction.set_rollback(True)  # measured first, then undone: the services do it for real below
    raw_rows = len(listed_rows)

    def raw_compose() -> None:
        """The floor of composing and handing over: per rep a plain-text mail of its leads, five signed links each
        (the same tokens), all handed to one mail connection; no template, no per-row record."""
        page = settings.SITE_URL.rstrip("/") + reverse("feedback_link", args=["TOKEN"])
        signer = signing.TimestampSigner(salt=LINK_SALT)
        by_rater = defaultdict(list)
        for row in listed_rows:
            by_rater[(row[1], row[2])].append(row)
        messages = []
        for (rater_id, email), items in by_rater.items():
            parts = []
            for request_id, _, _, first, last, company, source, point in items:
                links = "\n".join(
                    f"   {r}: " + page.replace("TOKEN", signer.sign_object({"q": request_id, "u": rater_id, "r": r,
                                                                          "v": 0}))
                    for r in range(1, 6)
                )
                parts.append(f"{first} {last} — {company} ({source}), {point}\n{links}")
            messages.append(EmailMultiAlternatives(f"{len(items)} leads to rate", "\n\n".join(parts), None, [email]))
        with get_connection() as mail:
            mail.send_messages(messages)

    reverse("feedback_to_give")  # a worker that has run a task before: its URL map is loaded
    raw_built = _median(raw_compose, 3)

    # Where a rep works is their calendar (its zone): four calendars, one per zone, like four offices.
    offices = [BusinessCalendar.objects.get_or_create(name=f"Office {z}", defaults={"time_zone": z})[0] for z in zones]
    profiles = list(RepProfile.objects.order_by("user_id"))
    for i, profile in enumerate(profiles):
        profile.calendar = offices[i % 4]
    RepProfile.objects.bulk_update(profiles, ["calendar"])
    reverse("feedback_to_give")  # a worker that has run a task before: its URL map is loaded
    # Every rep's 09:05 of Wednesday 18 March, one zone after the other, each written and then sent.
    instants = sorted(datetime(2026, 3, 18, 9, 5, tzinfo=ZoneInfo(zone)).astimezone(UTC) for zone in zones)
    made = listed = sent = 0
    create = send = 0.0
    for instant in instants:
        t0 = time.perf_counter()
        result = feedback_digests_create(now=instant)
        create += time.perf_counter() - t0
        t0 = time.perf_counter()
        sent += feedback_digests_send(now=instant, limit=args.reps).sent
        send += time.perf_counter() - t0
        made, listed = made + result.made, listed + result.listed
    figure("feedback_digests_create (4 zones' 09:05): written", create, raw, None,
           f"digests {made}, requests listed {listed:,} (raw: INSERT digests, 2 UPDATEs, the read, {raw_rows:,} rows)")
    figure("feedback_digests_send: composed (text + HTML, 5 signed links a lead), handed to the mail backend, "
           "each delivery recorded", send, raw_built, None, f"sent {sent} (raw: plain text, one send_messages)")
    figure("built in all", create + send, raw + raw_built, 2.0)
    offices_close()
    print(f"\n4. the lead quality page over 26 weeks (median of {args.repeat}; target <= 200 ms)")
    period = {"start": start.date(), "end": now.date()}
    engine = _median(lambda: lead_quality(**period), args.repeat)
    report = lead_quality(**period)
    lo, hi = start, now + timedelta(days=1)

    def raw_tallies() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"""SELECT day, lead_source, segment, definition_id, pending, answered, expired, rated_1, rated_2,
                           rated_3, rated_4, rated_5
                    FROM {t['FeedbackTally']} WHERE day >= %(lo)s AND day <= %(hi)s""",
                {"lo": lo.date(), "hi": now.date()},
            )
            cursor.fetchall()
            cursor.execute(
                f"""SELECT day, lead_source, segment, definition_id, reason_id, given FROM {t['FeedbackReasonTally']}
                    WHERE day >= %(lo)s AND day <= %(hi)s AND given > 0""",
                {"lo": lo.date(), "hi": now.date()},
            )
            cursor.fetchall()

    def raw_requests() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"""SELECT r.lead_source, r.segment, r.definition_id, date_trunc('week', r.qualified_at), r.outcome,
                           f.rating, count(*)
                    FROM {t['FeedbackRequest']} r LEFT JOIN {t['LeadFeedback']} f ON f.request_id = r.id
                    WHERE r.qualified_at >= %(lo)s AND r.qualified_at < %(hi)s AND r.outcome <> 'withdrawn'
                    GROUP BY 1, 2, 3, 4, 5, 6""",
                {"lo": lo, "hi": hi},
            )
            cursor.fetchall()
            cursor.execute(
                f"""SELECT r.lead_source, r.segment, r.definition_id, date_trunc('week', r.qualified_at),
                           x.reasoncode_id, count(*)
                    FROM {through} x JOIN {t['LeadFeedback']} f ON f.id = x.leadfeedback_id
                    JOIN {t['FeedbackRequest']} r ON r.id = f.request_id
                    WHERE r.qualified_at >= %(lo)s AND r.qualified_at < %(hi)s GROUP BY 1, 2, 3, 4, 5""",
                {"lo": lo, "hi": hi},
            )
            cursor.fetchall()

    raw = _median(raw_tallies, args.repeat)
    total = report.total
    figure("lead_quality (reads the tallies; raw: the same two reads)", engine, raw, 0.200,
           f"requests {total.asked:,}, rated {total.rated:,}, average {total.average:.2f}, "
           f"coverage {total.coverage:.0%}")
    figure("raw, without tallies: GROUP BY over the requests and reasons", _median(raw_requests, 3), None, None)


if __name__ == "__main__":
    main()
