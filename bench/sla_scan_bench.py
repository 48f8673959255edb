"""Benchmark the SLA breach scan on PostgreSQL with a million open handoffs, beside the raw set-based SQL."""

# Run by hand (PostgreSQL at 127.0.0.1:5432; the database is dropped and created):
#   .venv/bin/python bench/sla_scan_bench.py
#   .venv/bin/python bench/sla_scan_bench.py --handoffs 200000 --due 50000
# Loads --handoffs open handoffs (each with --clocks clocks: accept, first touch, follow-up) with
# generate_series, then measures, each beside the raw SQL on the same table in the same run:
#   1. the scan when nothing is due (target <= 5 ms): sla_scan() vs a bare UPDATE ... WHERE due_at <= now;
#   2. flagging --due past-due clocks with their outbox rows (target <= 1 s): sla_scan_all() (batches of
#      SCAN_BATCH, FOR UPDATE SKIP LOCKED) vs one UPDATE ... RETURNING feeding INSERT ... ON CONFLICT, for
#      a backlog (the accept clocks of --due handoffs qualified together) and for the worst case (due clocks
#      scattered one per page through the table).

from __future__ import annotations

import argparse
import statistics
import time

from _support import clocks_bulk_begin, clocks_bulk_end, fresh_django  # noqa: E402


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:9.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--handoffs", type=int, default=1_000_000, help="open handoffs to load")
    parser.add_argument("--clocks", type=int, default=3, choices=[1, 2, 3], help="clocks per handoff")
    parser.add_argument("--due", type=int, default=50_000, help="clocks made past due for the flagging run")
    parser.add_argument("--repeat", type=int, default=20, help="runs of the nothing-due scan (median shown)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/handoff_bench_sla")
    args = parser.parse_args()

    fresh_django(args.database_url)
    from django.db import connection, transaction
    from django.utils import timezone

    from handoff.models import BusinessCalendar, Handoff, Lead, LeadDefinition, Milestone, SlaNotification, SlaPolicy
    from handoff.models.sla import NotificationKind
    from handoff.services import jobs
    from handoff.services.sla import SCAN_BATCH, sla_scan, sla_scan_all

    # The sender is not what is measured: the scan queues it after commit, here a no-op.
    jobs._send = lambda task_name: None

    lead_t, handoff_t = Lead._meta.db_table, Handoff._meta.db_table
    m_t, n_t = Milestone._meta.db_table, SlaNotification._meta.db_table
    definition = LeadDefinition.objects.get(is_active=True).pk
    policy = SlaPolicy.objects.get(is_active=True).pk
    calendar = BusinessCalendar.objects.get(is_default=True).pk
    kinds = ["accept", "first_touch", "follow_up"][: args.clocks]
    now = timezone.now()

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {lead_t} (crm_id, first_name, last_name, email, company, title, country, industry,
                    lead_source, status, score, crm_owner_id, is_converted, is_deleted, raw, created_at, updated_at,
                    phone, mobile_phone)
                SELECT '00Qbench' || lpad(i::text, 10, '0'), 'Ada', 'Lovelace ' || i, 'ada@example.com', 'Engines',
                       '', 'GB', '', 'Web', 'Open - Not Contacted', 60, '', false, false, '{{}}', %(now)s, %(now)s,
                       '', ''
                FROM generate_series(1, %(n)s) AS i""",
            {"n": args.handoffs, "now": now},
        )
        cursor.execute(
            f"""INSERT INTO {handoff_t} (lead_id, sequence, state, definition_id, qualified_by_kind, qualified_at,
                    handed_at, note, dispute_note, created_at, updated_at)
                SELECT id, 1, 'qualified', %(definition)s, 'rule', %(now)s, %(now)s, '', '', %(now)s, %(now)s
                FROM {lead_t}""",
            {"definition": definition, "now": now},
        )
        # Deadlines spread over the next weeks: nothing is due yet.
        clocks_bulk_begin(cursor)
        cursor.execute(
            f"""INSERT INTO {m_t} (handoff_id, kind, round, policy_id, segment, calendar_id, started_at,
                    window_seconds, due_at, remind_at, paused_by, attempts, attempts_required, created_at)
                SELECT h.id, k.kind, 1, %(policy)s, 'standard', %(calendar)s, %(now)s, 86400,
                       %(now)s + interval '1 hour' + (h.id %% 40000) * interval '1 minute',
                       %(now)s + interval '1 hour' + (h.id %% 40000) * interval '45 seconds',
                       '', 0, 1, %(now)s
                FROM {handoff_t} h CROSS JOIN unnest(%(kinds)s::text[]) AS k(kind)""",
            {"policy": policy, "calendar": calendar, "now": now, "kinds": kinds},
        )
        clocks_bulk_end(cursor)
        cursor.execute(f"VACUUM ANALYZE {lead_t}, {handoff_t}, {m_t}, {n_t}")
    total = Milestone.objects.count()
    print(f"loaded {args.handoffs:,} open handoffs, {total:,} running clocks in {time.perf_counter() - started:.1f} s")

    running = "met_at IS NULL AND breached_at IS NULL AND paused_at IS NULL AND stopped_at IS NULL"

    def raw_nothing_due() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"UPDATE {m_t} SET breached_at = due_at WHERE due_at <= %s AND {running}", [now])

    def timed(fn, repeat: int) -> float:
        fn()  # warm
        runs = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - t0)
        return statistics.median(runs)

    print("\n1. scan with nothing due (median of", args.repeat, "runs; target <= 5 ms)")
    engine = timed(lambda: sla_scan(kind=NotificationKind.BREACH, now=now), args.repeat)
    raw = timed(raw_nothing_due, args.repeat)
    print(f"   sla_scan(breach)                          {_ms(engine)}")
    print(f"   raw UPDATE … WHERE due_at <= now (same table) {_ms(raw)}")
    with connection.cursor() as cursor:
        cursor.execute(
            f"EXPLAIN SELECT id FROM {m_t} WHERE due_at <= %s AND {running} ORDER BY due_at LIMIT 5000 "
            "FOR UPDATE SKIP LOCKED",
            [now],
        )
        plan = " / ".join(row[0].strip() for row in cursor.fetchall()[:3])
    print(f"   plan: {plan}")

    def make_due(layout: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {n_t}")
            cursor.execute(f"UPDATE {m_t} SET breached_at = NULL WHERE breached_at IS NOT NULL")
            cursor.execute(f"UPDATE {m_t} SET due_at = %s + interval '1 day' WHERE due_at <= %s", [now, now])
            if layout == "backlog":
                # The accept clocks of --due handoffs qualified together (a weekend's leads at Monday's
                # opening, or the clocks that ran out while the scanner was down): rows written together.
                cursor.execute(f"SELECT min(id) FROM {handoff_t}")
                first = cursor.fetchone()[0] + args.handoffs // 3
                cursor.execute(
                    f"UPDATE {m_t} SET due_at = %s - (id %% 600) * interval '1 second' "
                    "WHERE kind = 'accept' AND handoff_id >= %s AND handoff_id < %s",
                    [now, first, first + args.due],
                )
            else:
                # Worst case: every k-th clock of the whole table, one row per page.
                step = max(total // args.due, 1)
                cursor.execute(
                    f"UPDATE {m_t} SET due_at = %s - (id %% 600) * interval '1 second' WHERE id %% %s = 0 AND id <= %s",
                    [now, step, step * args.due],
                )
            cursor.execute(f"VACUUM ANALYZE {m_t}, {n_t}")

    def raw_flag() -> int:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"""WITH flagged AS (
                        UPDATE {m_t} SET breached_at = due_at WHERE due_at <= %(now)s AND {running}
                        RETURNING id, handoff_id, kind
                    )
                    INSERT INTO {n_t} (milestone_id, milestone_kind, kind, status, recipients, attempts,
                                       next_attempt_at, last_error, created_at)
                    SELECT id, kind, 'breach', 'pending', '', 0, %(now)s, '', %(now)s FROM flagged
                    ON CONFLICT DO NOTHING""",
                {"now": now},
            )
            return cursor.rowcount

    layouts = {
        "backlog": "clocks written together come due together",
        "scattered": "every k-th clock of the table: one per page",
    }
    print(f"\n2. flagging {args.due:,} past-due clocks with their outbox rows (target <= 1 s)")
    for layout, description in layouts.items():
        print(f"   {layout} ({description}):")
        make_due(layout)
        t0 = time.perf_counter()
        counts = sla_scan_all(now=now)
        engine = time.perf_counter() - t0
        flagged = counts["breach"]
        notices = SlaNotification.objects.count()
        make_due(layout)
        t0 = time.perf_counter()
        raw_rows = raw_flag()
        raw = time.perf_counter() - t0
        print(f"     sla_scan_all (batches of {SCAN_BATCH:,}, SKIP LOCKED)    {_ms(engine)}  "
              f"flagged {flagged:,}, notices {notices:,}")
        print(f"     raw UPDATE … RETURNING → INSERT … ON CONFLICT     {_ms(raw)}  notices {raw_rows:,}")


if __name__ == "__main__":
    main()
