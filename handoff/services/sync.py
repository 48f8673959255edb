"""The CRM sync: incremental pull, first import, deletes, nightly reconcile, owners and statuses, rules on sync."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import queue
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from handoff.crm import get_backend
from handoff.crm.base import (
    CrmApiBudgetExhausted,
    CrmBackend,
    CrmConfigError,
    CrmRateLimited,
    CrmReplicationWindowExceeded,
    to_api_value,
)
from handoff.exceptions import WrongState
from handoff.models import Handoff, Lead, LeadDefinition, RepProfile, Role, SyncLease, SyncRun, SyncState
from handoff.models.handoffs import OPEN_STATES
from handoff.rules import parse_conditions

from .actors import Actor
from .handoffs import MAX_BATCH, handoffs_close, handoffs_convert, handoffs_reassign, leads_qualify_by_rule
from .sla import clock_statuses, clocks_first_touch_by_status, clocks_sync_status

log = logging.getLogger(__name__)

SOBJECT = "Lead"
LEASE = "crm-sync"
# Always read: identity, ownership, conversion and the timestamps the sync itself runs on.
ALWAYS = ("Id", "OwnerId", "IsConverted", "ConvertedDate", "CreatedDate", "SystemModstamp")
MEANINGS = ("open", "working", "converted", "closed")
QUEUE_PREFIX = "00G"
# getDeleted covers whole minutes: consecutive windows overlap so a deletion on a boundary is never missed.
DELETES_OVERLAP = timedelta(minutes=2)
# Rows per IN (...) lookup: below SQLite's variable limit, large enough to keep round trips few.
CHUNK = 2000
# Rows of a Bulk 2.0 page applied per transaction: bounds memory and keeps each commit short.
BULK_APPLY = 10_000
# Lead fields the sync writes on every changed row (created_at is set once, on insert).
SYNCED_FIXED = [
    "owner",
    "crm_owner_id",
    "is_converted",
    "converted_at",
    "is_deleted",
    "crm_created_at",
    "crm_modified_at",
    "raw",
    "updated_at",
]


class SyncBusy(WrongState):
    """Another sync holds the lease."""

    code = "sync_busy"


class Progress(Protocol):
    """What the sync reports progress to (a tqdm bar fits): `total` may be set, `update(n)` adds rows."""

    total: int | None

    def update(self, n: int = 1) -> Any: ...


# ---------------------------------------------------------------------------------------------
# Configuration, read and checked at start
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SyncConfig:
    field_map: dict[str, str]  # Lead field → CRM field
    status_map: dict[str, str]  # CRM status text → meaning
    writeback_status: dict[str, str]  # app action → CRM status text
    reason_field: str
    page_size: int
    bulk_threshold: int
    fetch_batch: int
    deleted_window: timedelta
    lease_seconds: int

    @classmethod
    def from_settings(cls) -> SyncConfig:
        """Read the CRM_* settings; CrmConfigError names the setting when one is wrong."""
        field_map = dict(settings.CRM_FIELD_MAP)
        lead_fields = {f.name: f for f in Lead._meta.get_fields() if getattr(f, "concrete", False)}
        for local, crm in field_map.items():
            model_field = lead_fields.get(local)
            if not isinstance(model_field, models.CharField | models.FloatField) or local in ("crm_id", "crm_owner_id"):
                raise CrmConfigError(
                    f"CRM_FIELD_MAP maps {crm!r} to {local!r}, which is not a text or number field of Lead; "
                    f"use one of: {', '.join(sorted(_mappable_fields()))}."
                )
            if not crm or crm in ALWAYS:
                raise CrmConfigError(f"CRM_FIELD_MAP: {local!r} needs a CRM field other than {', '.join(ALWAYS)}.")
        status_map = {str(k).strip(): str(v).strip() for k, v in settings.CRM_STATUS_MAP.items()}
        wrong = sorted({m for m in status_map.values() if m not in MEANINGS})
        if wrong:
            raise CrmConfigError(f"CRM_STATUS_MAP: unknown meaning(s) {', '.join(wrong)}; use {', '.join(MEANINGS)}.")
        writeback = {str(k).strip(): str(v).strip() for k, v in settings.CRM_WRITEBACK_STATUS.items()}
        unknown = sorted(set(writeback) - {"accept", "reject", "recycle", "convert"})
        if unknown:
            raise CrmConfigError(
                f"CRM_WRITEBACK_STATUS: unknown action(s) {', '.join(unknown)}; use accept, reject, recycle, convert."
            )
        numbers = {
            "CRM_PAGE_SIZE": settings.CRM_PAGE_SIZE,
            "CRM_FETCH_BATCH": settings.CRM_FETCH_BATCH,
            "CRM_DELETED_WINDOW_DAYS": settings.CRM_DELETED_WINDOW_DAYS,
            "CRM_SYNC_LEASE_SECONDS": settings.CRM_SYNC_LEASE_SECONDS,
        }
        for name, value in numbers.items():
            if value <= 0:
                raise CrmConfigError(f"{name} must be a positive number, got {value}.")
        return cls(
            field_map=field_map,
            status_map=status_map,
            writeback_status=writeback,
            reason_field=settings.CRM_REASON_FIELD.strip(),
            page_size=settings.CRM_PAGE_SIZE,
            bulk_threshold=settings.CRM_BULK_THRESHOLD,
            fetch_batch=settings.CRM_FETCH_BATCH,
            deleted_window=timedelta(days=settings.CRM_DELETED_WINDOW_DAYS),
            lease_seconds=settings.CRM_SYNC_LEASE_SECONDS,
        )

    @functools.cached_property
    def crm_fields(self) -> list[str]:
        """Every Lead field the sync reads, in a stable order (asked once per record: computed once)."""
        return list(dict.fromkeys([*ALWAYS, *self.field_map.values()]))

    @functools.cached_property
    def mapped_columns(self) -> list[tuple[str, str, int | None]]:
        """(Lead field, CRM field, max length) per mapped field; no max length for a number field."""
        plan = []
        for local, crm in self.field_map.items():
            model_field = Lead._meta.get_field(local)
            plan.append((local, crm, None if isinstance(model_field, models.FloatField) else model_field.max_length))
        return plan

    @property
    def update_fields(self) -> list[str]:
        return [*self.field_map, *SYNCED_FIXED]

    def check_statuses(self, statuses: Sequence[str]) -> None:
        """Every CRM status must have a meaning, every write-back status must exist in the CRM."""
        unmapped = [s for s in statuses if s not in self.status_map]
        if unmapped:
            raise CrmConfigError(
                f"CRM_STATUS_MAP has no meaning for the CRM status(es) {', '.join(map(repr, unmapped))}; "
                f"map each to one of {', '.join(MEANINGS)}."
            )
        missing = {a: s for a, s in self.writeback_status.items() if s not in statuses}
        if missing:
            wrong = ", ".join(f"{a}={s!r}" for a, s in missing.items())
            raise CrmConfigError(
                f"CRM_WRITEBACK_STATUS names status(es) the CRM does not have: {wrong}; "
                f"the CRM has {', '.join(map(repr, statuses))}."
            )

    def meaning(self, status: str) -> str | None:
        """What a CRM status means here (open / working / converted / closed), None when unmapped."""
        return self.status_map.get(status)


def _mappable_fields() -> list[str]:
    return [
        f.name
        for f in Lead._meta.get_fields()
        if isinstance(f, models.CharField | models.FloatField) and f.name not in ("crm_id", "crm_owner_id")
    ]


def sync_config() -> SyncConfig:
    return SyncConfig.from_settings()


# ---------------------------------------------------------------------------------------------
# Mapping a CRM record to Lead values (pure)
# ---------------------------------------------------------------------------------------------
def _text(value: Any, max_length: int) -> str:
    if value is None:
        return ""
    # A CRM longer than the local column (a widened custom field) must not fail the whole page.
    return str(value)[:max_length]


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return float(value)


def _moment(value: Any) -> datetime | None:
    """CRM dates become midnight UTC, datetimes stay aware; None stays None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time.min, tzinfo=UTC)
    return datetime.fromisoformat(str(value)).astimezone(UTC)


_JSON_PLAIN = frozenset({str, float, int, bool, type(None)})


def lead_values(record: dict, *, config: SyncConfig, owners: dict[str, int]) -> dict[str, Any]:
    """The Lead field values of one CRM record.

    `owners` maps CRM user ids to local user ids; a queue (00G…) or an unknown user leaves the lead unowned
    while `crm_owner_id` keeps the CRM's owner.
    """
    values: dict[str, Any] = {
        local: _number(record.get(crm)) if max_length is None else _text(record.get(crm), max_length)
        for local, crm, max_length in config.mapped_columns
    }
    owner_crm_id = record.get("OwnerId") or ""
    modstamp = _moment(record["SystemModstamp"])
    values.update(
        crm_id=record["Id"],
        crm_owner_id=owner_crm_id,
        owner_id=None if owner_crm_id.startswith(QUEUE_PREFIX) else owners.get(owner_crm_id),
        is_converted=bool(record.get("IsConverted")),
        converted_at=_moment(record.get("ConvertedDate")),
        is_deleted=False,
        crm_created_at=_moment(record.get("CreatedDate")),
        crm_modified_at=modstamp,
        # Most values are already what the API sends; only dates and datetimes need writing back as text.
        raw={
            name: value if type(value) in _JSON_PLAIN else to_api_value(value)
            for name in config.crm_fields
            if name in record
            for value in (record[name],)
        },
    )
    return values


# ---------------------------------------------------------------------------------------------
# One sync at a time: a lease that a crashed worker gives up by letting it expire
# ---------------------------------------------------------------------------------------------
def lease_acquire(*, name: str, holder: str, seconds: int) -> bool:
    """Take the lease when it is free or expired; False when someone else holds it."""
    now = timezone.now()
    until = now + timedelta(seconds=seconds)
    with transaction.atomic():
        taken = (
            SyncLease.objects.filter(name=name)
            .filter(Q(expires_at__lte=now) | Q(holder=holder))
            .update(holder=holder, expires_at=until)
        )
        if taken:
            return True
        try:
            with transaction.atomic():
                SyncLease.objects.create(name=name, holder=holder, expires_at=until)
        except IntegrityError:
            return False
    return True


def lease_renew(*, name: str, holder: str, seconds: int) -> None:
    """Extend a held lease; SyncBusy when it lapsed and another worker took it."""
    until = timezone.now() + timedelta(seconds=seconds)
    if not SyncLease.objects.filter(name=name, holder=holder).update(expires_at=until):
        raise SyncBusy("The sync lease lapsed and another sync took over; stopping this one.")


def lease_release(*, name: str, holder: str) -> None:
    SyncLease.objects.filter(name=name, holder=holder).delete()


# ---------------------------------------------------------------------------------------------
# Owners: CRM users become reps
# ---------------------------------------------------------------------------------------------
def reps_sync_from_crm(*, users: Iterable[dict]) -> dict[str, int]:
    """Create or update a rep for every CRM user; return CRM user id → local user id.

    A CRM user is matched by CRM id, else linked to the one existing person with the same email and no CRM
    id; otherwise a person is created: a sales rep with no usable password until an admin gives one. An
    inactive CRM user's profile becomes inactive, so routing skips them.
    """
    by_crm = {u["Id"]: u for u in users if u.get("Id")}
    with transaction.atomic():
        profiles = {
            p.crm_user_id: p for p in RepProfile.objects.select_related("user").filter(crm_user_id__in=list(by_crm))
        }
        unlinked = [u for crm_id, u in by_crm.items() if crm_id not in profiles]
        emails = {(u.get("Email") or "").lower() for u in unlinked} - {""}
        by_email: dict[str, list[User]] = defaultdict(list)
        for user in (
            User.objects.annotate(email_lower=Lower("email"))
            .filter(email_lower__in=emails)
            .filter(Q(profile__isnull=True) | Q(profile__crm_user_id__isnull=True))
            .select_related("profile")
        ):
            by_email[user.email_lower].append(user)
        relink, new_profiles, to_create = [], [], []
        for crm_user in unlinked:
            matches = by_email.get((crm_user.get("Email") or "").lower(), [])
            if len(matches) != 1:
                to_create.append(crm_user)
                continue
            profile = getattr(matches[0], "profile", None)
            if profile is None:
                profile = RepProfile(user=matches[0])
                new_profiles.append(profile)
            else:
                relink.append(profile)
            profile.crm_user_id = crm_user["Id"]
            profiles[crm_user["Id"]] = profile
        RepProfile.objects.bulk_update(relink, ["crm_user_id"])
        if to_create:
            taken = set(
                User.objects.filter(username__in=[_username(u) for u in to_create]).values_list("username", flat=True)
            )
            fresh = []
            for crm_user in to_create:
                username = _username(crm_user)
                user = User(username=f"{username[:130]}-{crm_user['Id']}" if username in taken else username)
                user.set_unusable_password()
                _copy_user(user, crm_user)
                fresh.append(user)
            fresh = User.objects.bulk_create(fresh)
            Group.objects.get(name=Role.SALES_REP).user_set.add(*fresh)
            for crm_user, user in zip(to_create, fresh, strict=True):
                profile = RepProfile(user=user, crm_user_id=crm_user["Id"])
                new_profiles.append(profile)
                profiles[crm_user["Id"]] = profile
        for profile in new_profiles:
            profile.is_active = bool(by_crm[profile.crm_user_id].get("IsActive", True))
        RepProfile.objects.bulk_create(new_profiles)
        changed_profiles, changed_users = [], []
        for crm_id, profile in profiles.items():
            crm_user = by_crm[crm_id]
            active = bool(crm_user.get("IsActive", True))
            if profile.is_active != active:
                profile.is_active = active
                changed_profiles.append(profile)
            before = (profile.user.first_name, profile.user.last_name, profile.user.email)
            _copy_user(profile.user, crm_user)
            if before != (profile.user.first_name, profile.user.last_name, profile.user.email):
                changed_users.append(profile.user)
        RepProfile.objects.bulk_update(changed_profiles, ["is_active"])
        User.objects.bulk_update(changed_users, ["first_name", "last_name", "email"])
    return {crm_id: profile.user_id for crm_id, profile in profiles.items()}


def _username(crm_user: dict) -> str:
    return (crm_user.get("Username") or crm_user["Id"])[:150]


def _copy_user(user: User, crm_user: dict) -> None:
    user.first_name = (crm_user.get("FirstName") or "")[:150]
    user.last_name = (crm_user.get("LastName") or crm_user.get("Name") or "")[:150]
    user.email = (crm_user.get("Email") or "")[:254]


# ---------------------------------------------------------------------------------------------
# Applying pages
# ---------------------------------------------------------------------------------------------
@dataclass
class _Context:
    backend: CrmBackend
    config: SyncConfig
    run: SyncRun
    holder: str
    owners: dict[str, int] = field(default_factory=dict)
    reps: set[int] = field(default_factory=set)
    rule_fields: list[str] = field(default_factory=list)
    clock_statuses: frozenset[str] = frozenset()
    # On an org's first import, the rule judges only leads the CRM changed since then (see CRM_IMPORT_QUALIFY_DAYS).
    qualify_since: datetime | None = None
    progress: Progress | None = None

    def advance(self, rows: int) -> None:
        self.run.fetched += rows
        if self.progress is not None:
            self.progress.update(rows)


def _chunks(items: Sequence, size: int = CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _prefetched(pages: Iterator[list[dict]]) -> Iterator[list[dict]]:
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


def _existing(crm_ids: Sequence[str], extra: Sequence[str] = ()) -> dict[str, dict]:
    """crm_id → stored values of the leads among `crm_ids`, deleted ones too."""
    wanted = ["pk", "crm_id", "crm_modified_at", "owner_id", "is_deleted", "is_converted", *extra]
    found: dict[str, dict] = {}
    for chunk in _chunks(list(crm_ids)):
        for row in Lead.objects.filter(crm_id__any=chunk).values(*dict.fromkeys(wanted)):
            found[row["crm_id"]] = row
    return found


def _apply_page(ctx: _Context, records: list[dict], *, watermark: datetime | None = None) -> None:
    """Upsert one page and everything it implies for handoffs in one transaction, with the watermark.

    Rows whose SystemModstamp equals the stored one are skipped, so re-reading a page writes nothing. Deleted
    rows (IsDeleted, from queryAll) are tombstoned in the same transaction, as getDeleted's are; one never
    mirrored is left out.
    """
    page = {r["Id"]: r for r in records}  # a row read twice in one page counts once
    stored = _existing(list(page), [*ctx.rule_fields, "status"])
    changed: list[dict] = []
    deletions: dict[str, datetime | None] = {}
    for crm_id, record in page.items():
        before = stored.get(crm_id)
        if record.get("IsDeleted"):
            if before and not before["is_deleted"]:
                # The delete moved the row's SystemModstamp: that is when it was deleted.
                deletions[crm_id] = _moment(record["SystemModstamp"])
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
            _tombstone(ctx, deletions)
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
        for chunk in _chunks([v["crm_id"] for v in changed]):
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


def _after_upsert(ctx: _Context, changed: list[dict], stored: dict[str, dict], pks: dict[str, int]) -> None:
    """Carry CRM changes over to handoffs: conversions, owner changes, then qualification by the rule."""
    new_ids = [v["crm_id"] for v in changed if v["crm_id"] not in stored]
    ctx.run.created += len(new_ids)
    ctx.run.updated += len(changed) - len(new_ids)

    converted = [pks[v["crm_id"]] for v in changed if v["is_converted"]]
    if converted:
        handoffs = list(
            Handoff.objects.filter(lead_id__any=converted, state__in=OPEN_STATES).values_list("pk", flat=True)
        )
        for chunk in _chunks(handoffs, MAX_BATCH):
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
            for chunk in _chunks(handoffs, MAX_BATCH):
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
    watched = ctx.clock_statuses if "status" in ctx.config.field_map else frozenset()
    moved = [
        pks[v["crm_id"]]
        for v in changed
        if v["status"] in watched or stored.get(v["crm_id"], {}).get("status") in watched
    ]
    if moved:
        clocks_sync_status(lead_ids=moved)
        clocks_first_touch_by_status(lead_ids=moved)


def _qualification_candidates(
    ctx: _Context, changed: list[dict], stored: dict[str, dict], pks: dict[str, int]
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
        for chunk in _chunks(plain):
            judged.update(Handoff.objects.filter(lead_id__any=chunk).values_list("lead_id", flat=True))
        relevant += [pk for pk in plain if pk not in judged]
    return relevant


def _rule_fields() -> list[str]:
    definition = LeadDefinition.objects.filter(is_active=True).first()
    if definition is None:
        return []
    return sorted({c.field for c in parse_conditions(definition.conditions)})


def _tombstone(ctx: _Context, deletions: dict[str, datetime | None]) -> None:
    """Mark leads deleted and close their open handoffs; never hard-delete.

    With a deletion time, a lead changed in the CRM after it (undeleted and pulled again) stays live.
    """
    stored = _existing(list(deletions))
    doomed = [
        row["pk"]
        for crm_id, row in stored.items()
        if not row["is_deleted"]
        and (deletions[crm_id] is None or row["crm_modified_at"] is None or deletions[crm_id] >= row["crm_modified_at"])
    ]
    if not doomed:
        return
    with transaction.atomic():
        for chunk in _chunks(doomed):
            Lead.objects.filter(pk__any=chunk).update(is_deleted=True, updated_at=timezone.now())
        handoffs = []
        for chunk in _chunks(doomed):
            handoffs += Handoff.objects.filter(lead_id__any=chunk, state__in=OPEN_STATES).values_list("pk", flat=True)
        for chunk in _chunks(handoffs, MAX_BATCH):
            ctx.run.closed += len(handoffs_close(handoffs=chunk, actor=Actor.sync(), note="Deleted in the CRM."))
        ctx.run.deleted += len(doomed)
        ctx.run.save()


# ---------------------------------------------------------------------------------------------
# The kinds of run
# ---------------------------------------------------------------------------------------------
def _import(ctx: _Context, state: SyncState) -> None:
    """Read every lead: through Bulk 2.0 for a large org, else the ordered REST cursor."""
    started = timezone.now()
    total = ctx.backend.count_leads()
    if ctx.progress is not None:
        ctx.progress.total = total
    if total > ctx.config.bulk_threshold:
        ctx.run.used_bulk = True
        newest = state.watermark
        for page in _prefetched(ctx.backend.iter_all_bulk(ctx.config.crm_fields, include_deleted=False)):
            for part in _chunks(page, BULK_APPLY):
                _apply_page(ctx, list(part))
            newest = max(filter(None, [newest, *(_moment(r["SystemModstamp"]) for r in page)]), default=None)
        # Bulk pages come unordered: the watermark may only move once every page is in.
        with transaction.atomic():
            SyncState.objects.filter(sobject=SOBJECT).update(watermark=newest)
            ctx.run.watermark_after = newest
            ctx.run.save()
    else:
        for page in ctx.backend.iter_changed(None, ctx.config.crm_fields, ctx.config.page_size):
            if page:
                _apply_page(ctx, page, watermark=_moment(page[-1]["SystemModstamp"]))
    if state.deletes_checked_until is None:
        # What was deleted before the import was never read; later deletions are the next pull's.
        SyncState.objects.filter(sobject=SOBJECT).update(deletes_checked_until=started - DELETES_OVERLAP)


def _pull(ctx: _Context, state: SyncState) -> None:
    """Read changes since the watermark through queryAll: deletions still in the recycle bin come in order with the
    updates and land in the same page; getDeleted (`_pull_deletes`) is left with the rows purged from the bin."""
    pages = ctx.backend.iter_changed(state.watermark, ctx.config.crm_fields, ctx.config.page_size, include_deleted=True)
    for page in pages:
        if page:
            _apply_page(ctx, page, watermark=_moment(page[-1]["SystemModstamp"]))


def _pull_deletes(ctx: _Context, state: SyncState) -> bool:
    """Apply getDeleted since the last check; False when the CRM no longer reaches back that far.

    The pull's queryAll already brought the deletions still in the recycle bin; this catches those purged from
    it (or hard-deleted) before the pull saw them. Deletions already applied are skipped by `_tombstone`.
    """
    end = timezone.now()
    start = state.deletes_checked_until or (end - DELETES_OVERLAP)
    if start < end - ctx.config.deleted_window:
        return False
    try:
        deleted = ctx.backend.deleted_since(start, end)
    except CrmReplicationWindowExceeded:
        return False
    _tombstone(ctx, {crm_id: _moment(at) for crm_id, at in deleted})
    SyncState.objects.filter(sobject=SOBJECT).update(deletes_checked_until=end - DELETES_OVERLAP)
    return True


def _reconcile(ctx: _Context) -> None:
    """Compare every CRM id and SystemModstamp with the local mirror; fetch what differs, tombstone what is gone."""
    started = timezone.now()
    if ctx.progress is not None:
        ctx.progress.total = ctx.backend.count_leads()
    seen: set[str] = set()
    fields = ctx.config.crm_fields
    for page in ctx.backend.iter_all_bulk(["Id", "SystemModstamp", "IsDeleted"], include_deleted=True):
        stored = _existing([r["Id"] for r in page])
        stale, gone = [], {}
        for row in page:
            crm_id = row["Id"]
            seen.add(crm_id)
            local = stored.get(crm_id)
            if row.get("IsDeleted"):
                if local is not None and not local["is_deleted"]:
                    gone[crm_id] = None
            elif local is None or local["is_deleted"] or local["crm_modified_at"] != _moment(row["SystemModstamp"]):
                stale.append(crm_id)
        for chunk in _chunks(stale, ctx.config.fetch_batch):
            _apply_page(ctx, ctx.backend.fetch_by_ids(list(chunk), fields))
        _tombstone(ctx, gone)
        if ctx.progress is not None:
            ctx.progress.update(len(page) - len(stale))
    # Purged from the recycle bin: no longer even in queryAll.
    purged: dict[str, datetime | None] = {}
    for crm_id in Lead.objects.filter(is_deleted=False).values_list("crm_id", flat=True).iterator(chunk_size=CHUNK):
        if crm_id not in seen:
            purged[crm_id] = None
    _tombstone(ctx, purged)
    SyncState.objects.filter(sobject=SOBJECT).update(
        deletes_checked_until=started - DELETES_OVERLAP, last_reconcile_at=timezone.now()
    )


def _state() -> SyncState:
    state, _ = SyncState.objects.get_or_create(sobject=SOBJECT)
    return state


def sync_run(
    *, kind: str = SyncRun.Kind.INCREMENTAL, backend: CrmBackend | None = None, progress: Progress | None = None
) -> SyncRun:
    """Run the sync once, holding the lease, and record it as a SyncRun.

    kind: incremental (changes since the watermark and deletes; the first run of an org imports it),
    full (read every lead again; unchanged rows are skipped) or reconcile (compare every id and
    SystemModstamp). Pages are committed as they arrive, so a run that fails keeps what it committed and
    the next run resumes from the watermark. A rate limit or the API budget stops a run without failing it.
    Raises SyncBusy when another sync runs, and re-raises any other failure after recording it.
    """
    config = sync_config()
    backend = backend or get_backend()
    holder = uuid.uuid4().hex
    if not lease_acquire(name=LEASE, holder=holder, seconds=config.lease_seconds):
        raise SyncBusy("Another CRM sync is running; try again when it has finished.")
    state = _state()
    if kind == SyncRun.Kind.INCREMENTAL and state.watermark is None:
        kind = SyncRun.Kind.FULL
    run = SyncRun.objects.create(kind=kind, started_at=timezone.now(), watermark_before=state.watermark)
    ctx = _Context(backend=backend, config=config, run=run, holder=holder, progress=progress)
    if state.watermark is None and settings.CRM_IMPORT_QUALIFY_DAYS:
        # Years of history are mirrored, not handed to sales: an MQL from 2019 would only breach its SLA at once.
        ctx.qualify_since = run.started_at - timedelta(days=settings.CRM_IMPORT_QUALIFY_DAYS)
    calls_before = backend.api_calls
    try:
        backend.check(config.crm_fields)
        config.check_statuses(backend.lead_statuses())
        ctx.owners = reps_sync_from_crm(users=backend.users())
        ctx.reps = set(
            User.objects.filter(pk__in=list(ctx.owners.values()), groups__name=Role.SALES_REP).values_list(
                "pk", flat=True
            )
        )
        ctx.rule_fields = _rule_fields()
        ctx.clock_statuses = clock_statuses()
        if kind == SyncRun.Kind.RECONCILE:
            _reconcile(ctx)
        elif kind == SyncRun.Kind.FULL:
            _import(ctx, state)
        else:
            _pull(ctx, state)
            if not _pull_deletes(ctx, _state()):
                log.warning("getDeleted cannot reach back to the last check; reconciling instead.")
                run.kind = SyncRun.Kind.RECONCILE
                _reconcile(ctx)
        run.outcome = SyncRun.Outcome.SUCCEEDED
        SyncState.objects.filter(sobject=SOBJECT).update(last_success_at=timezone.now())
    except (CrmRateLimited, CrmApiBudgetExhausted) as exc:
        run.outcome, run.error = SyncRun.Outcome.STOPPED, str(exc)
    except BaseException as exc:
        run.outcome, run.error = SyncRun.Outcome.FAILED, f"{type(exc).__name__}: {exc}"
        raise
    finally:
        run.finished_at = timezone.now()
        run.api_calls = max(backend.api_calls - calls_before, 0)
        usage = backend.api_usage()
        if usage is not None:
            run.api_used, run.api_limit = usage
        run.save()
        lease_release(name=LEASE, holder=holder)
    return run


@dataclass
class SyncPreview:
    """What a run would do, read without writing anything."""

    kind: str
    watermark: datetime | None
    fetched: int = 0
    would_create: int = 0
    would_update: int = 0
    unchanged: int = 0


def sync_preview(
    *, full: bool = False, backend: CrmBackend | None = None, progress: Progress | None = None
) -> SyncPreview:
    """A dry run: read the changes a pull would apply and classify them against the mirror; writes nothing."""
    config = sync_config()
    backend = backend or get_backend()
    state = SyncState.objects.filter(sobject=SOBJECT).first()
    since = None if full or state is None else state.watermark
    backend.check(config.crm_fields)
    config.check_statuses(backend.lead_statuses())
    preview = SyncPreview(kind=SyncRun.Kind.FULL if since is None else SyncRun.Kind.INCREMENTAL, watermark=since)
    if since is None and progress is not None:
        progress.total = backend.count_leads()
    for page in backend.iter_changed(since, ["Id", "SystemModstamp"], config.page_size):
        stored = _existing([r["Id"] for r in page])
        for record in page:
            local = stored.get(record["Id"])
            if local is None:
                preview.would_create += 1
            elif local["is_deleted"] or local["crm_modified_at"] != _moment(record["SystemModstamp"]):
                preview.would_update += 1
            else:
                preview.unchanged += 1
        preview.fetched += len(page)
        if progress is not None:
            progress.update(len(page))
    return preview
