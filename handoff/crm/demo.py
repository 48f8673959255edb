"""The embedded demo CRM: leads that arrive and change over time, identical in every process, with no server.

Every lead is a pure function of (seed, lead number): a creation time and a script of later changes (assignment,
first contact, score bumps, conversion, the odd delete). The state at any moment is the script replayed up to
that moment, so the web app, the Celery worker and beat agree without talking to each other. Only two things
are stored, in a small JSON file: the demo's epoch (so timestamps stay put across restarts) and the changes the
app wrote back, which are replayed on top of the script at the time they were written.
"""
from __future__ import annotations

import fcntl
import functools
import json
import os
import random
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from .base import (
    CrmBackend,
    CrmConfigError,
    CrmError,
    CrmReplicationWindowExceeded,
    WriteResult,
    make_id,
    missing_fields,
    parse_datetime,
    to18,
    to_api_value,
    typed_value,
    with_fields,
)
from .config import DemoConfig

# Leads arrive and reps work 09:00-17:00 UTC on weekdays; the demo's clock counts only those "business seconds".
WORKDAY_START = 9 * 3600
WORKDAY_SECONDS = 8 * 3600
WEEK_SECONDS = 7 * 86400
BUSINESS_WEEK = 5 * WORKDAY_SECONDS
BUSINESS_DAY = WORKDAY_SECONDS
BUSINESS_HOUR = 3600
# A new install looks eight weeks old: ~4,800 leads at the default one per 4 business minutes.
HISTORY = timedelta(weeks=8)
# No scripted change happens later than this after the lead was created (bounds what iter_changed replays).
SCRIPT_SPAN = 30 * BUSINESS_DAY
# Deletions are reported this far back, as Salesforce's getDeleted does.
REPLICATION_WINDOW = timedelta(days=15)
BULK_PAGE_SIZE = 50_000

STATUSES = ["Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted"]
OPEN, WORKING, CONVERTED, NOT_CONVERTED = STATUSES

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

# --- The cast ----------------------------------------------------------------------------------


def _user(number: int, first: str, last: str, active: bool = True) -> dict:
    username = f"{first}.{last}".lower()
    return {
        "Id": make_id("005", number, pod="DM"),
        "Name": f"{first} {last}",
        "FirstName": first,
        "LastName": last,
        "Email": f"{username}@handoff-demo.example",
        "IsActive": active,
        "Username": f"{username}@handoff-demo.example",
    }


# The same people `manage.py seed_demo` creates as reps (same CRM user ids), so leads the embedded CRM
# hands out land with the demo logins.
REPS = [
    _user(4, "Raj", "Patel"),
    _user(5, "Sofía", "Álvarez"),
    _user(6, "Li", "Wei"),
    _user(7, "Tom", "Becker"),
]
# Left the company two weeks into the demo's history; still owns the leads he had, as in real orgs.
FORMER_REP = _user(8, "Kenji", "Watanabe", active=False)
USERS = [*REPS, FORMER_REP]
QUEUE_ID = make_id("00G", 1, pod="DM")
OWNER_IDS = frozenset({QUEUE_ID, *(user["Id"] for user in USERS)})

FIRST_NAMES = [
    "Olivia", "Liam", "Emma", "Noah", "Sofia", "Lucas", "Mia", "Elias", "Léa", "Hugo", "Anna", "Jonas",
    "Isabella", "Mohammed", "Fatima", "Yusuf", "Aiko", "Haruto", "Mei", "Wei", "Ananya", "Arjun", "Chiara",
    "Marco", "Ingrid", "Sven", "Zofia", "Jakub", "Camila", "Diego", "Grace", "Samuel", "Nora", "Oscar",
    "Amara", "Kwame", "Seo-yeon", "Min-jun", "Aoife", "Seán", "Eva", "Daniel", "Laura", "Pedro",
]
LAST_NAMES = [
    "Smith", "Johnson", "Müller", "Schmidt", "Martin", "Bernard", "Rossi", "Bianchi", "García", "Fernández",
    "Kowalski", "Nowak", "Jansen", "de Vries", "Andersson", "Nilsson", "O'Brien", "Murphy", "Tanaka", "Suzuki",
    "Kim", "Park", "Chen", "Wang", "Patel", "Sharma", "Okafor", "Mensah", "Silva", "Santos", "Novák",
    "Horváth", "Dubois", "Lefèvre", "Hansen", "Larsen", "Costa", "Ferreira", "Cohen", "Levi", "Brown", "Wilson",
]
COMPANY_WORDS = [
    "Northwind", "Bluefin", "Cedar", "Helix", "Quantum", "Summit", "Lumen", "Orbit", "Harbor", "Vertex",
    "Juniper", "Falcon", "Granite", "Nimbus", "Aurora", "Pioneer", "Atlas", "Beacon", "Copper", "Meridian",
]
COMPANY_KINDS = [
    "Analytics", "Logistics", "Health", "Robotics", "Foods", "Energy", "Systems", "Labs", "Capital", "Retail",
    "Software", "Manufacturing", "Media", "Biotech", "Networks",
]
COMPANY_SUFFIXES = ["Inc.", "Ltd", "GmbH", "SA", "BV", "AB", "LLC", "S.p.A.", "K.K.", "plc"]
TITLES = [
    "Head of Marketing", "VP Sales", "Chief Technology Officer", "Operations Manager", "IT Director",
    "Procurement Lead", "Data Analyst", "Founder & CEO", "Head of Growth", "Finance Director",
    "Product Manager", "Engineering Manager", "Customer Success Lead", "Office Manager",
]
PLACES = [
    ("London", "United Kingdom"), ("Manchester", "United Kingdom"), ("Berlin", "Germany"), ("Munich", "Germany"),
    ("Paris", "France"), ("Lyon", "France"), ("Madrid", "Spain"), ("Milan", "Italy"), ("Amsterdam", "Netherlands"),
    ("Stockholm", "Sweden"), ("Warsaw", "Poland"), ("Dublin", "Ireland"), ("New York", "United States"),
    ("Austin", "United States"), ("San Francisco", "United States"), ("Toronto", "Canada"), ("São Paulo", "Brazil"),
    ("Tokyo", "Japan"), ("Singapore", "Singapore"), ("Sydney", "Australia"), ("Bangalore", "India"),
]
INDUSTRIES = [
    "Technology", "Finance", "Healthcare", "Manufacturing", "Retail", "Education", "Energy",
    "Telecommunications", "Media", "Biotechnology",
]
# Source -> (weight, typical starting score range).
LEAD_SOURCES = {
    "Web": (30, (10, 45)),
    "Demo Request": (12, (55, 85)),
    "Webinar": (14, (30, 60)),
    "Trade Show": (10, (25, 55)),
    "Partner Referral": (8, (45, 75)),
    "Purchased List": (10, (0, 25)),
    "Content Download": (16, (15, 45)),
}
RATINGS = ["Hot", "Warm", "Cold"]

# --- Time ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _BusinessClock:
    """Converts between wall time and business seconds elapsed since `epoch` (a Monday, 00:00 UTC)."""

    epoch: datetime

    def to_business(self, moment: datetime) -> int:
        weeks, rest = divmod(int((moment - self.epoch).total_seconds()), WEEK_SECONDS)
        day, second = divmod(rest, 86400)
        within = BUSINESS_WEEK if day >= 5 else day * WORKDAY_SECONDS + min(max(second - WORKDAY_START, 0),
                                                                             WORKDAY_SECONDS)
        return weeks * BUSINESS_WEEK + within

    def to_wall(self, business: int) -> datetime:
        weeks, rest = divmod(business, BUSINESS_WEEK)
        day, second = divmod(rest, WORKDAY_SECONDS)
        return self.epoch + timedelta(seconds=weeks * WEEK_SECONDS + day * 86400 + WORKDAY_START + second)


def _epoch_for(now: datetime) -> datetime:
    # The Monday on or after eight weeks ago: the history never exceeds HISTORY, so the lead count stays bounded.
    start = (now - HISTORY).astimezone(UTC)
    monday = start.date() + timedelta(days=-start.weekday() % 7)
    return datetime(monday.year, monday.month, monday.day, tzinfo=UTC)


# --- Lead scripts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Script:
    """One lead's life: static fields, creation and later changes, in business seconds since the epoch."""

    fields: dict[str, Any]
    created: int
    events: tuple[tuple[int, dict[str, Any]], ...]


@functools.lru_cache(maxsize=50_000)
def _script(seed: int, interval: int, index: int) -> _Script:
    # A string seed is hashed with SHA-512, so every process derives the same lead (unlike hash()).
    rng = random.Random(f"handoff-demo:{seed}:{index}")
    created = index * interval + rng.randrange(interval)
    fields = _identity(rng, index)
    source = fields["LeadSource"]
    low, high = LEAD_SOURCES[source][1]
    score = float(rng.randint(low, high))
    hot = source in ("Demo Request", "Partner Referral")
    fields.update(
        Status=OPEN,
        Lead_Score__c=score,
        Rating="Hot" if score >= 70 else rng.choice(RATINGS[1:]),
        OwnerId=_first_owner(rng, created),
        IsDeleted=False,
        IsConverted=False,
        ConvertedDate=None,
        ConvertedAccountId=None,
        ConvertedContactId=None,
        ConvertedOpportunityId=None,
        MQL_Date__c=None,
        Description=None,
    )
    return _Script(fields, created, tuple(_events(rng, index, created, fields["OwnerId"], score, hot)))


def _identity(rng: random.Random, index: int) -> dict[str, Any]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    word, kind = rng.choice(COMPANY_WORDS), rng.choice(COMPANY_KINDS)
    company = f"{word} {kind} {rng.choice(COMPANY_SUFFIXES)}"
    city, country = rng.choice(PLACES)
    domain = f"{_ascii(word)}{_ascii(kind)}.example"
    sources = list(LEAD_SOURCES)
    return {
        "Id": make_id("00Q", index + 1, pod="DM"),
        "FirstName": first,
        "LastName": last,
        "Name": f"{first} {last}",
        "Title": rng.choice(TITLES),
        "Company": company,
        # A few leads come in without an email, as web forms with optional fields do.
        "Email": None if rng.random() < 0.04 else f"{_ascii(first)}.{_ascii(last)}@{domain}",
        "Phone": f"+1 555 {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}",
        "City": city,
        "Country": country,
        "Industry": rng.choice(INDUSTRIES),
        "NumberOfEmployees": rng.choice([8, 25, 60, 150, 400, 1200, 5000, 20000]),
        "LeadSource": rng.choices(sources, weights=[LEAD_SOURCES[s][0] for s in sources])[0],
    }


def _first_owner(rng: random.Random, created: int) -> str:
    # Some leads wait in the queue first; early in the history the former rep still got his share.
    if rng.random() < 0.35:
        return QUEUE_ID
    pool = USERS if created < 2 * BUSINESS_WEEK else REPS
    return rng.choice(pool)["Id"]


def _events(
    rng: random.Random, index: int, created: int, owner: str, score: float, hot: bool
) -> Iterator[tuple[int, dict[str, Any]]]:
    """The scripted changes after creation, in time order (all within SCRIPT_SPAN)."""
    at = created
    if owner == QUEUE_ID:
        at += rng.randint(10 * 60, 6 * BUSINESS_HOUR)
        yield at, {"OwnerId": rng.choice(REPS)["Id"]}
    if rng.random() < 0.015:
        # Spam and duplicates get deleted within a few days.
        yield at + rng.randint(BUSINESS_HOUR, 3 * BUSINESS_DAY), {"IsDeleted": True}
        return
    bumps = sorted(rng.randint(BUSINESS_HOUR, 10 * BUSINESS_DAY) for _ in range(rng.choice([0, 0, 1, 1, 2, 3])))
    contacted = at + rng.randint(5 * 60, (4 * BUSINESS_HOUR) if hot else 2 * BUSINESS_DAY) if rng.random() < 0.78 \
        else None
    outcome: tuple[int, dict[str, Any]] | None = None
    if contacted is not None:
        roll = rng.random()
        if roll < (0.45 if hot else 0.22):
            outcome = (contacted + rng.randint(2 * BUSINESS_DAY, 15 * BUSINESS_DAY), {
                "Status": CONVERTED,
                "IsConverted": True,
                "ConvertedAccountId": make_id("001", index + 1, pod="DM"),
                "ConvertedContactId": make_id("003", index + 1, pod="DM"),
                "ConvertedOpportunityId": make_id("006", index + 1, pod="DM"),
            })
        elif roll < 0.55:
            outcome = (contacted + rng.randint(BUSINESS_DAY, 10 * BUSINESS_DAY), {"Status": NOT_CONVERTED})
    timeline: list[tuple[int, dict[str, Any]]] = []
    for offset in bumps:
        score = min(100.0, score + rng.randint(5, 20))
        timeline.append((created + offset, {"Lead_Score__c": score}))
    if contacted is not None:
        timeline.append((contacted, {"Status": WORKING}))
    if rng.random() < 0.05:
        timeline.append((at + rng.randint(BUSINESS_DAY, 5 * BUSINESS_DAY), {"OwnerId": rng.choice(REPS)["Id"]}))
    if outcome is not None:
        # Nothing changes on a converted lead after conversion: it is read-only.
        timeline = [event for event in timeline if event[0] < outcome[0]]
        timeline.append(outcome)
    timeline.sort(key=lambda event: event[0])
    yield from timeline


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(char for char in plain.lower() if char.isalnum())


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
                    state = {"version": 1, "epoch": _epoch_for(now).isoformat(), "writes": {}}
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
        self.clock = _BusinessClock(datetime.fromisoformat(state["epoch"]))
        self.writes: dict[str, list[list]] = state.get("writes", {})
        self.lead_count = self._count_created()

    def _count_created(self) -> int:
        interval = self.config.lead_interval_seconds
        # Lead i is created in business second [i*interval, (i+1)*interval); only lead n may still be pending.
        n = max(0, self.clock.to_business(self.now) // interval)
        return n + (self.clock.to_wall(self._script(n).created) <= self.now)

    def _script(self, index: int) -> _Script:
        return _script(self.config.seed, self.config.lead_interval_seconds, index)

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
        if not crm_id.startswith("00QDM"):
            return None
        number = 0
        for char in crm_id[5:15]:
            number = number * 62 + "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".index(char)
        index = number - 1
        return index if 0 <= index < self.lead_count and make_id("00Q", number, pod="DM") == crm_id else None

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
