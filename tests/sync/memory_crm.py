"""An in-memory CRM backend for sync tests that need no emulator: exact control over pages and failures."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from handoff.crm.base import CrmBackend, CrmConfigError, CrmUnavailable, WriteResult, make_id

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STATUSES = ["Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted"]
USERS = [
    {"Id": make_id("005", 1), "Name": "Ann Owner", "FirstName": "Ann", "LastName": "Owner",
     "Email": "ann@example.com", "IsActive": True, "Username": "ann@crm.example"},
    {"Id": make_id("005", 2), "Name": "Ben Gone", "FirstName": "Ben", "LastName": "Gone",
     "Email": "ben@example.com", "IsActive": False, "Username": "ben@crm.example"},
]
QUEUE = make_id("00G", 1)


def lead(number: int, *, at: datetime = T0, **fields) -> dict:
    record = {
        "Id": make_id("00Q", number),
        "FirstName": "Grace",
        "LastName": f"Hopper {number}",
        "Email": f"grace{number}@example.com",
        "Company": "Navy",
        "Title": "Rear Admiral",
        "Country": "US",
        "Industry": "Government",
        "LeadSource": "Web",
        "Status": "Open - Not Contacted",
        "Lead_Score__c": 80.0,
        "OwnerId": USERS[0]["Id"],
        "IsConverted": False,
        "ConvertedDate": None,
        "CreatedDate": at - timedelta(days=1),
        "SystemModstamp": at,
    }
    record.update(fields)
    return record


class MemoryCrm(CrmBackend):
    """Leads in a dict; `fail_on_page=n` makes the n-th page of the next iter_changed raise CrmUnavailable."""

    def __init__(self, leads: list[dict] | None = None, *, fields: set[str] | None = None):
        self.leads = {r["Id"]: r for r in leads or []}  # live leads
        # Deleted leads still in the recycle bin: queryAll returns them (IsDeleted, SystemModstamp of the delete).
        self.bin: dict[str, dict] = {}
        # getDeleted's log: every deletion, purged from the bin or not.
        self.deleted: list[tuple[str, datetime]] = []
        self.fields = fields
        self.fail_on_page: int | None = None
        self.writes: list[tuple[str, dict]] = []
        self.write_outcomes: dict[str, WriteResult] = {}
        self.api_calls = 0
        self.queries: list[datetime | None] = []

    def check(self, fields: list[str]) -> None:
        missing = [f for f in fields if self.fields is not None and f not in self.fields]
        if missing:
            raise CrmConfigError(f"Salesforce Lead has no field {', '.join(missing)}")

    def lead_statuses(self) -> list[str]:
        return list(STATUSES)

    def count_leads(self) -> int:
        return len(self.leads)

    def iter_changed(
        self, since: datetime | None, fields: list[str], page_size: int, *, include_deleted: bool = False
    ) -> Iterator[list[dict]]:
        self.queries.append(since)
        rows = sorted(
            (r for r in self._rows(include_deleted) if since is None or r["SystemModstamp"] >= since),
            key=lambda r: (r["SystemModstamp"], r["Id"]),
        )
        for number, start in enumerate(range(0, len(rows), page_size), start=1):
            self.api_calls += 1
            if self.fail_on_page == number:
                self.fail_on_page = None
                raise CrmUnavailable("Salesforce answered 503 three times")
            yield rows[start : start + page_size]

    def iter_all_bulk(self, fields: list[str], include_deleted: bool) -> Iterator[list[dict]]:
        rows = [dict(r, IsDeleted=False) for r in self.leads.values()]
        if include_deleted:
            rows += [dict(r) for r in self.bin.values()]
        yield rows[::-1]

    def _rows(self, include_deleted: bool) -> list[dict]:
        """Copies of the live leads; with `include_deleted` (queryAll) the recycle bin too, every row with IsDeleted."""
        if not include_deleted:
            return [dict(r) for r in self.leads.values()]
        return [*(dict(r, IsDeleted=False) for r in self.leads.values()), *(dict(r) for r in self.bin.values())]

    def fetch_by_ids(self, ids: list[str], fields: list[str]) -> list[dict]:
        return [dict(self.leads[i]) for i in ids if i in self.leads]

    def deleted_since(self, start: datetime, end: datetime) -> list[tuple[str, datetime]]:
        # As Salesforce: whole minutes only, so a deletion in the minute `end` falls in is not reported yet.
        start, end = start.replace(second=0, microsecond=0), end.replace(second=0, microsecond=0)
        return [(i, at) for i, at in self.deleted if start <= at < end]

    def users(self) -> list[dict]:
        return [dict(u) for u in USERS]

    def update_leads(self, changes: list[tuple[str, dict]]) -> list[WriteResult]:
        self.api_calls += 1
        self.writes += changes
        return [self.write_outcomes.get(crm_id, WriteResult(crm_id, ok=True)) for crm_id, _ in changes]

    def api_usage(self) -> tuple[int, int] | None:
        return (self.api_calls, 100_000)

    def delete(self, crm_id: str, at: datetime) -> None:
        """Delete a lead into the recycle bin: the delete moves its SystemModstamp to `at`, as in Salesforce."""
        self.bin[crm_id] = dict(self.leads.pop(crm_id), IsDeleted=True, SystemModstamp=at)
        self.deleted.append((crm_id, at))

    def purge(self, crm_id: str) -> None:
        """Empty a deleted lead from the recycle bin: queryAll no longer returns it, getDeleted still does."""
        del self.bin[crm_id]

    def undelete(self, crm_id: str, at: datetime) -> None:
        """Restore a lead from the recycle bin; the undelete moves its SystemModstamp to `at`."""
        record = self.bin.pop(crm_id)
        del record["IsDeleted"]
        self.leads[crm_id] = dict(record, SystemModstamp=at)


def converted_on(day: date) -> dict:
    return {"IsConverted": True, "ConvertedDate": day, "Status": "Closed - Converted"}
