"""Benchmark the CRM sync against the Salesforce emulator, beside raw limits measured in the same run."""

# Run by hand (PostgreSQL at 127.0.0.1:5432; the database below is dropped and created):
#   .venv/bin/python bench/sync_bench.py --count 1000000
#   .venv/bin/python bench/sync_bench.py --count 200000 --database-url postgres://postgres@127.0.0.1:5432/handoff_syncbench
# Figures: first import (end to end, peak RSS of this process), incremental pull of --changed leads into the
# imported table, a re-run with nothing changed; and the raw limits: the Bulk 2.0 download alone through the
# adapter, and a plain COPY + INSERT ... ON CONFLICT upsert of as many rows alone.

from __future__ import annotations

import argparse
import io
import resource
import time
from datetime import UTC, datetime, timedelta

from _support import fresh_django  # noqa: E402


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1_000_000, help="leads in the emulator")
    parser.add_argument("--changed", type=int, default=10_000, help="leads changed before the incremental pull")
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/handoff_syncbench", help="dropped and created"
    )
    parser.add_argument("--no-rules", action="store_true", help="deactivate the lead definition (no qualification)")
    args = parser.parse_args()

    fresh_django(args.database_url, CRM_BACKEND="salesforce")

    from handoff.crm.config import SalesforceConfig
    from handoff.crm.salesforce import SalesforceBackend
    from handoff.models import HandoffEvent, Lead, LeadDefinition, SyncRun
    from handoff.services.sync import sync_run
    from tests import fake_sf

    if args.no_rules:
        LeadDefinition.objects.update(is_active=False)

    started = time.monotonic()
    server = fake_sf.start_server("--bulk-delay", "0", seed_count=args.count)
    print(f"emulator up with {args.count:,} leads in {time.monotonic() - started:.1f}s")
    admin = fake_sf.Admin(server)
    try:
        crm = SalesforceBackend(
            SalesforceConfig(instance_url=server.instance_url, session_id=server.session_id, ca_bundle=server.ca_bundle)
        )
        rows = []

        t = time.monotonic()
        run = sync_run(kind=SyncRun.Kind.INCREMENTAL, backend=crm)
        import_s = time.monotonic() - t
        import_rss = _rss_mb()
        assert run.outcome == SyncRun.Outcome.SUCCEEDED, run.error
        rows.append(
            (
                f"first import of {Lead.objects.count():,} leads ({'Bulk 2.0' if run.used_bulk else 'REST'}, "
                f"{run.qualified:,} qualified by the rule)",
                import_s,
                f"peak RSS {import_rss:.0f} MB",
            )
        )

        admin.call("POST", "clock", {"advance_seconds": 5})
        admin.mutate(count=args.changed, seed=11)
        t = time.monotonic()
        run = sync_run(kind=SyncRun.Kind.INCREMENTAL, backend=crm)
        rows.append(
            (f"incremental pull of {run.updated:,} changed leads", time.monotonic() - t, f"{run.api_calls} API calls")
        )

        events = HandoffEvent.objects.count()
        t = time.monotonic()
        run = sync_run(kind=SyncRun.Kind.INCREMENTAL, backend=crm)
        idle = time.monotonic() - t
        writes = run.created + run.updated + run.deleted + (HandoffEvent.objects.count() - events)
        rows.append(("re-run with nothing changed", idle, f"{writes} writes, {run.fetched} rows re-read"))

        fields = [
            "Id",
            "FirstName",
            "LastName",
            "Email",
            "Company",
            "Title",
            "Country",
            "Industry",
            "LeadSource",
            "Status",
            "Lead_Score__c",
            "OwnerId",
            "IsConverted",
            "ConvertedDate",
            "CreatedDate",
            "SystemModstamp",
        ]
        t = time.monotonic()
        downloaded = sum(len(page) for page in crm.iter_all_bulk(fields, include_deleted=False))
        rows.append((f"raw: Bulk 2.0 download + parse of {downloaded:,} leads alone", time.monotonic() - t, ""))

        t = time.monotonic()
        _raw_copy_upsert(downloaded)
        rows.append((f"raw: COPY + INSERT ON CONFLICT of {downloaded:,} rows alone", time.monotonic() - t, ""))
    finally:
        server.stop()

    print(f"\nN = {args.count:,} leads, PostgreSQL, emulator and sync on this machine")
    for label, seconds, extra in rows:
        print(f"  {label:<75} {seconds:8.1f} s   {extra}")


def _raw_copy_upsert(count: int) -> None:
    """The floor for writing `count` lead rows: COPY into a staging table, then one upsert into a bare copy."""
    from django.db import connection

    now = datetime.now(UTC)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_lead")
        cursor.execute(
            "CREATE TABLE bench_lead (LIKE handoff_lead INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)"
        )
        columns = [
            "id",
            "crm_id",
            "first_name",
            "last_name",
            "email",
            "company",
            "title",
            "country",
            "industry",
            "lead_source",
            "status",
            "score",
            "crm_owner_id",
            "is_converted",
            "is_deleted",
            "crm_created_at",
            "crm_modified_at",
            "raw",
            "created_at",
            "updated_at",
            "phone",
            "mobile_phone",
        ]
        cursor.execute("CREATE TEMP TABLE bench_stage AS SELECT * FROM bench_lead WITH NO DATA")
        batch = 50_000
        for start in range(0, count, batch):
            buffer = io.StringIO()
            for n in range(start, min(count, start + batch)):
                stamp = (now - timedelta(seconds=n)).isoformat()
                buffer.write(
                    f"{n + 1}\t00Q{n:015d}\tAda\tLovelace {n}\tada{n}@example.com\tEngines\tCTO\tGB\tTech\tWeb\t"
                    f"Open - Not Contacted\t75\t005000000000001AAA\tf\tf\t{stamp}\t{stamp}\t{{}}\t{stamp}\t{stamp}\t"
                    f"+44 20 7946 {n % 10000:04d}\t\n"
                )
            buffer.seek(0)
            with cursor.cursor.copy(f"COPY bench_stage ({', '.join(columns)}) FROM STDIN") as copy:
                copy.write(buffer.read())
            updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in ("id", "crm_id", "created_at"))
            cursor.execute(
                f"INSERT INTO bench_lead ({', '.join(columns)}) SELECT {', '.join(columns)} FROM bench_stage "
                f"ON CONFLICT (crm_id) DO UPDATE SET {updates}"
            )
            cursor.execute("TRUNCATE bench_stage")
        cursor.execute("DROP TABLE bench_lead")


if __name__ == "__main__":
    main()
