"""The embedded demo CRM: leads that arrive and change over time, identical in every process, with no server.

Every lead is a pure function of (seed, lead number): a creation time and a script of later changes (assignment,
first contact, score bumps, conversion, the odd delete), written in `handoff.demo.scripts` from the demo's cast
and names, the ones `manage.py seed_demo` uses. The state at any moment is the script replayed up to
that moment, so the web app, the Celery worker and beat agree without talking to each other. Only two things
are stored, in a small JSON file: the demo's epoch (so timestamps stay put across restarts) and the changes the
app wrote back, which are replayed on top of the script at the time they were written.
"""
from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from handoff.demo import cast
from handoff.demo.names import STATUSES
from handoff.demo.scripts import SCRIPT_SPAN, BusinessClock, Script, epoch_for, lead_script

from .base import (
    CrmBackend,
    CrmConfigError,
    CrmError,
    CrmReplicationWindowExceeded,
    WriteResult,
    missing_fields,
    parse_datetime,
    to18,
    to_api_value,
    typed_value,
    with_fields,
)
from .config import DemoConfig

# Deletions are reported this far back, as Salesforce's getDeleted does.
REPLICATION_WINDOW = timedelta(days=15)
BULK_PAGE_SIZE = 50_000

# Field name -> (describe type, updateable). A subset of the standard Lead plus the custom fields of a typical org.
FIELDS: dict[str, tuple[str, bool]] = {
    "Id": ("id", False),
    "IsDeleted": ("boolean", False),
    "FirstName": ("string", True),
    "LastName": ("string", True),
    "Name": ("string", False),
    "Title": ("string", True),
    "Company": ("string", True),
    "Email": ("email", True),
    "Phone": ("phone", True),
    "MobilePhone": ("phone", True),
    "City": ("string", True),
    "Country": ("string", True),
    "Industry": ("picklist", True),
    "NumberOfEmployees": ("int", True),
    "LeadSource": ("picklist", True),
    "Status": ("picklist", True),
    "Rating": ("picklist", True),
    "OwnerId": ("reference", True),
    "Description": ("textarea", True),
    "IsConverted": ("boolean", False),
    "ConvertedDate": ("date", False),
    "ConvertedAccountId": ("reference", False),
    "ConvertedContactId": ("reference", False),
    "ConvertedOpportunityId": ("reference", False),
    "CreatedDate": ("datetime", False),
    "LastModifiedDate": ("datetime", False),
    "SystemModstamp": ("datetime", False),
    "Lead_Score__c": ("double", True),
    "MQL_Date__c": ("date", True),
}
MQL_SCORE = 60

# --- The cast: the demo's people (handoff.demo.cast) as CRM users ------------------------------


def _crm_user(person: cast.Person) -> dict:
    username = f"{person.first_name}.{person.last_name}".lower()
    return {
        "Id": person.crm_user_id,
        "Name": f"{person.first_name} {person.last_name}",
        "FirstName": person.first_name,
        "LastName": person.last_name,
        "Email": f"{username}@{cast.EMAIL_DOMAIN}",
        "IsActive": person.active,
        "Username": f"{username}@{cast.EMAIL_DOMAIN}",
    }


# The reps who log in after `manage.py seed_demo` (same CRM user ids), so the leads they own land with them,
# and a former rep.
USERS = [_crm_user(person) for person in cast.CRM_USERS]
QUEUE_ID = cast.QUEUE_ID
OWNER_IDS = frozenset({QUEUE_ID, *(user["Id"] for user in USERS)})

# --- The state file -----------------------------------------------------------------------------


class _StateFile:
    """The JSON file shared by every process: epoch and written-back changes. Written atomically under a lock."""

    def __init__(self, path: Path):
        self.path = path
        self._cache: tuple[tuple[int, int, int], dict] | None = None

    def read(self, now: datetime) -> dict:
        if not self.path.exists():
            return self.update(now, lambda state: None)
        stat = self.path.stat()
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, self._load())
        return self._cache[1]

    def _load(self) -> dict:
        try:
            state = json.loads(self.path.read_text(encoding="utf-8"))
            datetime.fromisoformat(state["epoch"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CrmConfigError(
                f"The demo CRM state {self.path} is unreadable ({exc}); delete it or point DEMO_CRM_STATE elsewhere."
            ) from exc
        return state

    def update(self, now: datetime, change: Callable[[dict], None]) -> dict:
        """Apply `change` to the freshest state under an exclusive lock and write it back atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if self.path.exists():
                    state = self._load()
                else:
                    state = {"version": 1, "epoch": epoch_for(now).isoformat(), "writes": {}}
                change(state)
                self._write(state)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        self._cache = None
        return state

    def _write(self, state: dict) -> None:
        # Readers never take the lock: os.replace lets them see the old file or the new one, never half of one.
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(state, out, ensure_ascii=False, separators=(",", ":"))
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


# --- The backend --------------------------------------------------------------------------------


class DemoBackend(CrmBackend):
    """An in-process CRM for local installs and demos (`CRM_BACKEND=demo`)."""

    def __init__(self, config: DemoConfig, *, now: Callable[[], datetime] | None = None):
        self.config = config
        self._state = _StateFile(Path(config.state_path))
        self._now = now or (lambda: datetime.now(UTC))

    # --- The interface -------------------------------------------------------------------------

    def api_usage(self) -> tuple[int, int] | None:
        return None

    def check(self, fields: list[str]) -> None:
        missing = missing_fields(fields, FIELDS)
        if missing:
            raise CrmConfigError(f"The demo CRM's Lead has no field {', '.join(missing)}: fix the field mapping.")

    def lead_statuses(self) -> list[str]:
        return list(STATUSES)

    def count_leads(self) -> int:
        world = self._world()
        return sum(1 for lead in world.leads(range(world.lead_count)) if not lead["IsDeleted"])

    def iter_changed(
        self, since: datetime | None, fields: list[str], page_size: int, *, include_deleted: bool = False
    ) -> Iterator[list[dict]]:
        # A deleted lead's SystemModstamp is the time of its delete; the demo's recycle bin is never emptied.
        required = ("Id", "SystemModstamp", "IsDeleted") if include_deleted else ("Id", "SystemModstamp")
        select = self._select(with_fields(fields, required))
        world = self._world()
        first = 0 if since is None else world.first_index_changed_since(since)
        candidates = [*range(first, world.lead_count), *world.written_indexes(below=first)]
        changed = [
            lead
            for lead in world.leads(candidates)
            if (include_deleted or not lead["IsDeleted"])
            and (since is None or lead["SystemModstamp"] >= since.replace(microsecond=0))
        ]
        changed.sort(key=lambda lead: (lead["SystemModstamp"], lead["Id"]))
        yield from _pages([_project(lead, select) for lead in changed], max(1, page_size))

    def iter_all_bulk(self, fields: list[str], include_deleted: bool) -> Iterator[list[dict]]:
        select = self._select(with_fields(fields, ("Id",)))
        world = self._world()
        leads = (lead for lead in world.leads(range(world.lead_count)) if include_deleted or not lead["IsDeleted"])
        yield from _pages([_project(lead, select) for lead in leads], BULK_PAGE_SIZE)

    def fetch_by_ids(self, ids: list[str], fields: list[str]) -> list[dict]:
        select = self._select(with_fields(fields, ("Id",)))
        world = self._world()
        indexes = [index for index in dict.fromkeys(world.index_of(crm_id) for crm_id in ids) if index is not None]
        return [_project(lead, select) for lead in world.leads(indexes) if not lead["IsDeleted"]]

    def deleted_since(self, start: datetime, end: datetime) -> list[tuple[str, datetime]]:
        world = self._world()
        if start < world.now - REPLICATION_WINDOW:
            raise CrmReplicationWindowExceeded(
                f"The demo CRM keeps deletions {REPLICATION_WINDOW.days} days; {start:%Y-%m-%d %H:%M} is older"
            )
        candidates = range(world.first_index_changed_since(start), world.lead_count)
        return [
            (lead["Id"], lead["SystemModstamp"])
            for lead in world.leads(candidates)
            if lead["IsDeleted"] and start <= lead["SystemModstamp"] < end
        ]

    def users(self) -> list[dict]:
        return [dict(user) for user in USERS]

    def update_leads(self, changes: list[tuple[str, dict]]) -> list[WriteResult]:
        results: list[WriteResult] = []

        def apply(state: dict) -> None:
            world = self._world(state)
            stamp = world.now.isoformat()
            for crm_id, values in changes:
                result, accepted = world.validate_write(crm_id, values)
                results.append(result)
                if accepted is not None:
                    state["writes"].setdefault(result.crm_id, []).append([stamp, accepted])

        if changes:
            self._state.update(self._now(), apply)
        return results

    # --- Helpers -------------------------------------------------------------------------------

    def _world(self, state: dict | None = None) -> _World:
        now = self._now().astimezone(UTC).replace(microsecond=0)
        return _World(self.config, state if state is not None else self._state.read(now), now)

    @staticmethod
    def _select(fields: list[str]) -> list[str]:
        by_lower = {name.lower(): name for name in FIELDS}
        unknown = [name for name in fields if name.lower() not in by_lower]
        if unknown:
            # What Salesforce answers with INVALID_FIELD.
            raise CrmError(f"No such column {', '.join(unknown)} on the demo CRM's Lead")
        return [by_lower[name.lower()] for name in fields]


class _World:
    """The demo CRM as of `now`: scripts replayed up to now, with the written-back changes on top."""

    def __init__(self, config: DemoConfig, state: dict, now: datetime):
        self.config = config
        self.now = now
        self.clock = BusinessClock(datetime.fromisoformat(state["epoch"]))
        self.writes: dict[str, list[list]] = state.get("writes", {})
        self.lead_count = self._count_created()

    def _count_created(self) -> int:
        interval = self.config.lead_interval_seconds
        # Lead i is created in business second [i*interval, (i+1)*interval); only lead n may still be pending.
        n = max(0, self.clock.to_business(self.now) // interval)
        return n + (self.clock.to_wall(self._script(n).created) <= self.now)

    def _script(self, index: int) -> Script:
        return lead_script(self.config.seed, self.config.lead_interval_seconds, index)

    def first_index_changed_since(self, since: datetime) -> int:
        """The first lead whose script may still have changes at or after `since`."""
        horizon = self.clock.to_business(since) - SCRIPT_SPAN
        return max(0, horizon // self.config.lead_interval_seconds)

    def written_indexes(self, *, below: int) -> list[int]:
        return sorted(i for i in (self.index_of(crm_id) for crm_id in self.writes) if i is not None and i < below)

    def index_of(self, crm_id: str) -> int | None:
        try:
            crm_id = to18(crm_id)
        except ValueError:
            return None
        if not crm_id.startswith("00Q" + cast.CRM_POD):
            return None
        number = 0
        for char in crm_id[5:15]:
            number = number * 62 + "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".index(char)
        index = number - 1
        return index if 0 <= index < self.lead_count and cast.crm_id("00Q", number) == crm_id else None

    def leads(self, indexes: Iterable[int]) -> Iterator[dict]:
        for index in indexes:
            lead = self.lead(index)
            if lead is not None:
                yield lead

    def lead(self, index: int) -> dict | None:
        """Lead `index` as of now, or None if it does not exist yet."""
        script = self._script(index)
        created = self.clock.to_wall(script.created)
        if created > self.now:
            return None
        lead = dict(script.fields, CreatedDate=created)
        if (lead["Lead_Score__c"] or 0) >= MQL_SCORE:
            lead["MQL_Date__c"] = created.date()
        scripted = [(self.clock.to_wall(at), False, changes) for at, changes in script.events]
        written = [(parse_datetime(at), True, _typed(changes)) for at, changes in self.writes.get(lead["Id"], [])]
        # At the same second the script's change comes first and the app's write wins.
        events = sorted(scripted + written, key=lambda event: event[:2])
        stamp, app_fields = created, set()
        for when, by_app, changes in events:
            if when > self.now:
                break
            if by_app:
                app_fields.update(changes)
            else:
                # Once the app has set a field, the simulated reps leave it alone; a lead the app closed
                # or requalified is not converted behind its back either.
                if changes.get("IsConverted") and "Status" in app_fields:
                    continue
                changes = {name: value for name, value in changes.items() if name not in app_fields}
                if not changes:
                    continue
            lead.update(changes)
            stamp = when
            if changes.get("IsConverted"):
                lead["ConvertedDate"] = when.date()
            if lead["MQL_Date__c"] is None and (lead["Lead_Score__c"] or 0) >= MQL_SCORE:
                lead["MQL_Date__c"] = when.date()
        lead["LastModifiedDate"] = lead["SystemModstamp"] = stamp
        return lead

    def validate_write(self, crm_id: str, values: dict) -> tuple[WriteResult, dict | None]:
        """Check a write as Salesforce would; returns the result and the JSON values to store (None if refused)."""
        try:
            crm_id = to18(crm_id)
        except ValueError:
            return WriteResult.failed(crm_id, "MALFORMED_ID", f"malformed id {crm_id}"), None
        index = self.index_of(crm_id)
        lead = self.lead(index) if index is not None else None
        if lead is None:
            return WriteResult.failed(crm_id, "NOT_FOUND", "The requested resource does not exist"), None
        if lead["IsDeleted"]:
            return WriteResult.failed(crm_id, "ENTITY_IS_DELETED", "entity is deleted"), None
        if lead["IsConverted"]:
            return WriteResult.failed(crm_id, "CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead"), None
        for name, value in values.items():
            problem = _field_problem(name, value)
            if problem:
                return WriteResult.failed(crm_id, *problem), None
        return WriteResult(crm_id, ok=True), {name: to_api_value(value) for name, value in values.items()}


def _field_problem(name: str, value: Any) -> tuple[str, str] | None:
    if name not in FIELDS:
        return "INVALID_FIELD", f"No such column '{name}' on sobject of type Lead"
    field_type, updateable = FIELDS[name]
    if not updateable:
        return "INVALID_FIELD_FOR_INSERT_UPDATE", f"Unable to create/update fields: {name}"
    if name == "Status" and value not in STATUSES:
        return "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", f"Lead Status: bad value for restricted picklist: {value}"
    if name == "OwnerId" and value not in OWNER_IDS:
        return "FIELD_INTEGRITY_EXCEPTION", f"Owner ID: id value of incorrect type: {value}"
    if name == "LastName" and not value:
        return "REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]"
    if value is not None and not _fits(value, field_type):
        return "JSON_PARSER_ERROR", f"Cannot deserialize {value!r} into {field_type} field {name}"
    return None


def _fits(value: Any, field_type: str) -> bool:
    """Whether `value` has the JSON type Salesforce accepts for `field_type` (bool is not a number there)."""
    if field_type == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if field_type in ("double", "int"):
        return isinstance(value, int | float) and (field_type == "double" or float(value).is_integer())
    if field_type == "date":
        if isinstance(value, datetime):
            return False
        if isinstance(value, date):
            return True
        try:
            date.fromisoformat(value)
        except (TypeError, ValueError):
            return False
        return True
    return isinstance(value, str)


def _typed(values: dict[str, Any]) -> dict[str, Any]:
    return {name: typed_value(value, FIELDS[name][0]) for name, value in values.items()}


def _project(lead: dict, select: list[str]) -> dict:
    return {name: lead[name] for name in select}


def _pages(rows: list[dict], size: int) -> Iterator[list[dict]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
