"""`manage.py sync_crm`: run the CRM sync once, with a progress bar on a terminal and a one-line summary."""
from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from handoff.crm.base import CrmError
from handoff.exceptions import DomainError
from handoff.models import SyncRun
from handoff.services.sync import sync_preview, sync_run


class Command(BaseCommand):
    help = (
        "Pull leads from the CRM: changes since the last run by default (the first run imports everything), "
        "--full to read every lead again, --reconcile to compare every id with the CRM, "
        "--dry-run to show what a pull would change without writing."
    )

    def add_arguments(self, parser) -> None:
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--full", action="store_true", help="read every lead again (unchanged rows are skipped)")
        mode.add_argument("--reconcile", action="store_true", help="compare every CRM id and SystemModstamp")
        parser.add_argument("--dry-run", action="store_true", help="read and compare only; write nothing")

    def handle(self, *args, full: bool, reconcile: bool, dry_run: bool, **options) -> None:
        if dry_run and reconcile:
            raise CommandError("--dry-run previews a pull; it cannot be combined with --reconcile.")
        bar = tqdm(unit=" leads", disable=not sys.stdout.isatty(), file=sys.stdout, leave=False)
        try:
            if dry_run:
                preview = sync_preview(full=full, progress=bar)
                bar.close()
                self.stdout.write(
                    f"Dry run ({preview.kind}, since {preview.watermark or 'the beginning'}): "
                    f"{preview.fetched} read, {preview.would_create} would be created, "
                    f"{preview.would_update} updated, {preview.unchanged} unchanged. Nothing was written."
                )
                return
            kind = SyncRun.Kind.RECONCILE if reconcile else SyncRun.Kind.FULL if full else SyncRun.Kind.INCREMENTAL
            run = sync_run(kind=kind, progress=bar)
        except (CrmError, DomainError) as exc:
            raise CommandError(_one_line(str(exc))) from None
        except Exception as exc:
            raise CommandError(_one_line(f"{type(exc).__name__}: {exc}")) from None
        finally:
            bar.close()
        self.stdout.write(_summary(run))
        if run.outcome != SyncRun.Outcome.SUCCEEDED:
            raise CommandError(_one_line(f"sync {run.get_outcome_display().lower()}: {run.error}"))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _summary(run: SyncRun) -> str:
    usage = f", org API usage {run.api_used}/{run.api_limit}" if run.api_limit else ""
    return (
        f"{run.get_kind_display()}{' (Bulk 2.0)' if run.used_bulk else ''} {run.get_outcome_display().lower()} "
        f"in {(run.finished_at - run.started_at).total_seconds():.1f}s: {run.fetched} read, {run.created} created, "
        f"{run.updated} updated, {run.deleted} deleted, {run.qualified} qualified, {run.converted} converted, "
        f"{run.reassigned} reassigned, {run.closed} closed; {run.api_calls} API calls{usage}; "
        f"watermark {run.watermark_after or run.watermark_before or '—'}."
    )
