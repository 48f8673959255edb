"""Applying pages of CRM records, each in one transaction with its watermark.

A page is upserted (on PostgreSQL: COPY into a staging table and one INSERT ... ON CONFLICT), its deletions
tombstoned, and what it changed carried over to handoffs: conversions, owner changes, qualification by the rule
and the SLA milestones that follow CRM statuses. `prefetched` reads the next page in a thread meanwhile.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from handoff.crm.base import CrmBackend
from handoff.models import Handoff, Lead, SyncRun, SyncState
from handoff.models.handoffs import OPEN_STATES

from ..actors import Actor
from ..handoffs import MAX_BATCH, handoffs_close, handoffs_convert, handoffs_reassign, leads_qualify_by_rule
from ..sla import milestones_first_touch_by_crm_status, milestones_follow_crm_status
from .config import SOBJECT, SYNCED_FIXED, SyncConfig
from .lease import LEASE, lease_renew
from .mapping import lead_values, moment

# Rows per IN (...) lookup: below SQLite's variable limit, large enough to keep round trips few.
CHUNK = 2000


class Progress(Protocol):
    """What the sync reports progress to (a tqdm bar fits): `total` may be set, `update(n)` adds rows."""

    total: int | None

    def update(self, n: int = 1) -> Any: ...


@dataclass
class RunContext:
    """What a run carries from page to page: its CRM, configuration, record and lease, and what it read at start."""

    backend: CrmBackend
    config: SyncConfig
    run: SyncRun
    holder: str
    owners: dict[str, int] = field(default_factory=dict)
    reps: set[int] = field(default_factory=set)
    rule_fields: list[str] = field(default_factory=list)
    crm_statuses_moving_milestones: frozenset[str] = frozenset()
    # On an org's first import, the rule judges only leads the CRM changed since then (see CRM_IMPORT_QUALIFY_DAYS).
    qualify_since: datetime | None = None
    progress: Progress | None = None

    def advance(self, rows: int) -> None:
        self.run.fetched += rows
        if self.progress is not None:
            self.progress.update(rows)


def chunks(items: Sequence, size: int = CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def prefetched(pages: Iterator[list[dict]]) -> Iterator[list[dict]]:
    """Yield `pages`, reading the next one in a thread while the caller writes this one.

    While the caller waits on the database, the thread downloads and parses the CRM's next page, so the
    two overlap instead of taking turns. One page waits at most, so memory stays bounded. The reader's
    error is raised here, in order, after the pages before it. The thread talks only to the CRM (the caller
    must not use the same backend meanwhile), and it has ended when this generator ends, however it ends,
    so no request outlives the run.
    """
    slot: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def offer(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                slot.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for page in pages:
                if not offer(("page", page)):
                    return
            offer(("end", None))
        except BaseException as exc:  # handed over to the caller's thread, which decides
            offer(("error", exc))

    reader = threading.Thread(target=read, name="crm-prefetch", daemon=True)
    reader.start()
    try:
        while True:
            kind, item = slot.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        reader.join()


def stored_leads(crm_ids: Sequence[str], extra: Sequence[str] = ()) -> dict[str, dict]:
    """crm_id → stored values of the leads among `crm_ids`, deleted ones too."""
    wanted = ["pk", "crm_id", "crm_modified_at", "owner_id", "is_deleted", "is_converted", *extra]
    found: dict[str, dict] = {}
    for chunk in chunks(list(crm_ids)):
        for row in Lead.objects.filter(crm_id__any=chunk).values(*dict.fromkeys(wanted)):
            found[row["crm_id"]] = row
    return found


def apply_page(ctx: RunContext, records: list[dict], *, watermark: datetime | None = None) -> None:
    """Upsert one page and everything it implies for handoffs in one transaction, with the watermark.

    Rows whose SystemModstamp equals the stored one are skipped, so re-reading a page writes nothing. Deleted
    rows (IsDeleted, from queryAll) are tombstoned in the same transaction, as getDeleted's are; one never
    mirrored is left out.
    """
    page = {r["Id"]: r for r in records}  # a row read twice in one page counts once
    stored = stored_leads(list(page), [*ctx.rule_fields, "status"])
    changed: list[dict] = []
    deletions: dict[str, datetime | None] = {}
    for crm_id, record in page.items():
        before = stored.get(crm_id)
        if record.get("IsDeleted"):
            if before and not before["is_deleted"]:
                # The delete moved the row's SystemModstamp: that is when it was deleted.
                deletions[crm_id] = moment(record["SystemModstamp"])
            continue
        values = lead_values(record, config=ctx.config, owners=ctx.owners)
        if before and not before["is_deleted"] and before["crm_modified_at"] == values["crm_modified_at"]:
            continue
        changed.append(values)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Safe to commit asynchronously: the watermark (when there is one) commits in the same
            # transaction as the rows, and PostgreSQL's log replays commits in order, so a server crash can
            # only lose the newest pages together with the watermark that covered them: they are re-read.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        if changed:
            pks = _upsert(changed, ctx.config)
            _after_upsert(ctx, changed, stored, pks)
        if deletions:
            tombstone(ctx, deletions)
        if watermark is not None:
            SyncState.objects.filter(sobject=SOBJECT).update(watermark=watermark)
            ctx.run.watermark_after = watermark
        ctx.run.save()
    lease_renew(name=LEASE, holder=ctx.holder, seconds=ctx.config.lease_seconds)
    ctx.advance(len(records))


def _upsert(changed: list[dict], config: SyncConfig) -> dict[str, int]:
    """Insert or update leads by crm_id in one statement per batch; returns crm_id → pk of what it wrote.

    On PostgreSQL the rows are COPYed into a temporary staging table and merged with one
    INSERT ... ON CONFLICT ... RETURNING: several times faster than a parameterised multi-row INSERT for big
    pages, and the ids come back without a second lookup.
    """
    if connection.vendor != "postgresql":
        Lead.objects.bulk_create(
            [Lead(**values) for values in changed],
            update_conflicts=True,
            unique_fields=["crm_id"],
            update_fields=config.update_fields,
            batch_size=CHUNK,
        )
        pks: dict[str, int] = {}
        for chunk in chunks([v["crm_id"] for v in changed]):
            pks.update(Lead.objects.filter(crm_id__any=chunk).values_list("crm_id", "pk"))
        return pks
    names = ["crm_id", *config.field_map, "owner_id", *(f for f in SYNCED_FIXED if f not in ("owner", "updated_at"))]
    columns = [Lead._meta.get_field(n).column for n in names]
    stage = "sync_lead_stage_" + hashlib.sha1(",".join(columns).encode()).hexdigest()[:10]
    listed = ", ".join(f'"{c}"' for c in columns)
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} AS SELECT {listed} FROM {Lead._meta.db_table} WITH NO DATA"
        )
        cursor.execute(f"TRUNCATE {stage}")
        with cursor.cursor.copy(f"COPY {stage} ({listed}) FROM STDIN") as copy:
            for values in changed:
                copy.write_row([json.dumps(values[n]) if n == "raw" else values[n] for n in names])
        updates = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in columns if c != "crm_id")
        cursor.execute(
            f'INSERT INTO {Lead._meta.db_table} ({listed}, "created_at", "updated_at") '
            f"SELECT {listed}, %s, %s FROM {stage} "
            f'ON CONFLICT ("crm_id") DO UPDATE SET {updates}, "updated_at" = EXCLUDED."updated_at" '
            'RETURNING "crm_id", "id"',
            [now, now],
        )
        return dict(cursor.fetchall())


def _after_upsert(ctx: RunContext, changed: list[dict], stored: dict[str, dict], pks: dict[str, int]) -> None:
    """Carry CRM changes over to handoffs: conversions, owner changes, then qualification by the rule."""
    new_ids = [v["crm_id"] for v in changed if v["crm_id"] not in stored]
    ctx.run.created += len(new_ids)
    ctx.run.updated += len(changed) - len(new_ids)

    converted = [pks[v["crm_id"]] for v in changed if v["is_converted"]]
    if converted:
        handoffs = list(
            Handoff.objects.filter(lead_id__any=converted, state__in=OPEN_STATES).values_list("pk", flat=True)
        )
        for chunk in chunks(handoffs, MAX_BATCH):
            ctx.run.converted += len(handoffs_convert(handoffs=chunk, actor=Actor.sync(), note="Converted in the CRM."))

    new_owner = {
        pks[v["crm_id"]]: v["owner_id"]
        for v in changed
        if v["crm_id"] in stored and not v["is_converted"] and stored[v["crm_id"]]["owner_id"] != v["owner_id"]
    }
    if new_owner:
        by_owner: dict[int | None, list[int]] = defaultdict(list)
        for pk, lead_id, owner_id in Handoff.objects.filter(
            lead_id__any=list(new_owner), state__in=OPEN_STATES
        ).values_list("pk", "lead_id", "owner_id"):
            target = new_owner[lead_id]
            # A handoff goes to a sales rep or back to the queue; a CRM owner who is no rep here is the latter.
            target = target if target in ctx.reps else None
            if owner_id != target:
                by_owner[target].append(pk)
        owners = User.objects.in_bulk([o for o in by_owner if o is not None])
        for owner_id, handoffs in by_owner.items():
            for chunk in chunks(handoffs, MAX_BATCH):
                ctx.run.reassigned += len(
                    handoffs_reassign(
                        handoffs=chunk,
                        actor=Actor.sync(),
                        owner=owners.get(owner_id) if owner_id is not None else None,
                        note="Owner changed in the CRM.",
                    )
                )

    candidates = _qualification_candidates(ctx, changed, stored, pks)
    if candidates:
        ctx.run.qualified += len(leads_qualify_by_rule(lead_ids=candidates))

    # SLA clocks follow CRM statuses: pause statuses pause them, a "working" status is the first touch. Only
    # a lead whose status is, or just was, one of those can move a clock.
    watched = ctx.crm_statuses_moving_milestones if "status" in ctx.config.field_map else frozenset()
    moved = [
        pks[v["crm_id"]]
        for v in changed
        if v["status"] in watched or stored.get(v["crm_id"], {}).get("status") in watched
    ]
    if moved:
        milestones_follow_crm_status(lead_ids=moved)
        milestones_first_touch_by_crm_status(lead_ids=moved)


def _qualification_candidates(
    ctx: RunContext, changed: list[dict], stored: dict[str, dict], pks: dict[str, int]
) -> list[int]:
    """The changed leads the rule should judge.

    New leads and leads that never had a handoff always; a lead with an ended episode only when a field the
    definition looks at changed, so the sync's own write-back (a status) never hands a recycled lead back.
    """
    if not ctx.rule_fields:
        return []
    plain, relevant = [], []
    for values in changed:
        if values["is_converted"]:
            continue
        if ctx.qualify_since and (values["crm_modified_at"] is None or values["crm_modified_at"] < ctx.qualify_since):
            continue
        before = stored.get(values["crm_id"])
        pk = pks[values["crm_id"]]
        if before is None or before["is_deleted"] or any(before[f] != values[f] for f in ctx.rule_fields):
            relevant.append(pk)
        else:
            plain.append(pk)
    if plain:
        judged = set()
        for chunk in chunks(plain):
            judged.update(Handoff.objects.filter(lead_id__any=chunk).values_list("lead_id", flat=True))
        relevant += [pk for pk in plain if pk not in judged]
    return relevant


def tombstone(ctx: RunContext, deletions: dict[str, datetime | None]) -> None:
    """Mark leads deleted and close their open handoffs; never hard-delete.

    With a deletion time, a lead changed in the CRM after it (undeleted and pulled again) stays live.
    """
    stored = stored_leads(list(deletions))
    doomed = [
        row["pk"]
        for crm_id, row in stored.items()
        if not row["is_deleted"]
        and (deletions[crm_id] is None or row["crm_modified_at"] is None or deletions[crm_id] >= row["crm_modified_at"])
    ]
    if not doomed:
        return
    with transaction.atomic():
        for chunk in chunks(doomed):
            Lead.objects.filter(pk__any=chunk).update(is_deleted=True, updated_at=timezone.now())
        handoffs = []
        for chunk in chunks(doomed):
            handoffs += Handoff.objects.filter(lead_id__any=chunk, state__in=OPEN_STATES).values_list("pk", flat=True)
        for chunk in chunks(handoffs, MAX_BATCH):
            ctx.run.closed += len(handoffs_close(handoffs=chunk, actor=Actor.sync(), note="Deleted in the CRM."))
        ctx.run.deleted += len(doomed)
        ctx.run.save()
