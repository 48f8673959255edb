"""The CRM interface: one abstract backend, its error hierarchy and the plain-data helpers backends share."""
from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

# sObject Collections accept at most 200 records per request.
MAX_COLLECTION = 200

# Write errors that retrying can never fix: the lead is read-only now (converted), gone, or never existed.
SKIPPED_WRITE_CODES = frozenset({"CANNOT_UPDATE_CONVERTED_LEAD", "ENTITY_IS_DELETED", "NOT_FOUND", "MALFORMED_ID"})


# --- Errors -------------------------------------------------------------------------------------


class CrmError(Exception):
    """Any failure talking to the CRM."""


class CrmConfigError(CrmError):
    """Missing or invalid configuration; the message names the variable(s) to fix."""


class CrmAuthError(CrmError):
    """The session expired (or login failed) and cannot be renewed; the message names the variables."""


class CrmRateLimited(CrmError):
    """The org hit REQUEST_LIMIT_EXCEEDED: stop now and try again later."""


class CrmApiBudgetExhausted(CrmError):
    """The org's API usage reached the share this app may use; everything returned so far stays valid."""

    def __init__(self, used: int, limit: int, share: float):
        super().__init__(
            f"Salesforce API usage {used}/{limit} reached the configured share of {share:.0%} "
            "(SALESFORCE_MAX_API_SHARE); stopping until usage falls."
        )
        self.used = used
        self.limit = limit
        self.share = share


class CrmUnavailable(CrmError):
    """Transient faults (5xx, dropped connections, garbled bodies, timeouts) persisted after retries."""


class CrmReplicationWindowExceeded(CrmError):
    """getDeleted cannot reach back to the requested start: the caller must run a full reconcile."""


# --- Plain data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WriteResult:
    """The outcome of writing one lead.

    `ok` is True only when the CRM applied the change. `skipped` marks a change that was not applied and must
    not be retried (the lead is converted, deleted, unknown or the id malformed); other failures (validation,
    a restricted picklist value...) have ok=False, skipped=False.
    """

    crm_id: str
    ok: bool
    skipped: bool = False
    error_code: str | None = None
    message: str | None = None

    @classmethod
    def failed(cls, crm_id: str, error_code: str, message: str) -> WriteResult:
        return cls(crm_id, ok=False, skipped=error_code in SKIPPED_WRITE_CODES, error_code=error_code,
                   message=message)


_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


# Each character of an id as a bit: 1 for an upper-case letter (the case the suffix encodes), else 0.
_CASE_BITS = str.maketrans({chr(c): "1" if chr(c).isupper() else "0" for c in range(128) if chr(c).isalnum()})
# The suffix character of every 5-character chunk's bits, written first character first ("10000" is "B").
_CHUNK_CHAR = {
    format(n, "05b")[::-1]: _SUFFIX_CHARS[n] for n in range(32)
}


def _id_suffix(id15: str) -> str:
    """The 3-character case-safe suffix Salesforce appends to a 15-character id.

    Each 5-character chunk gives one character: bit i is set when its i-th character is upper case.
    """
    bits = id15.translate(_CASE_BITS)
    return _CHUNK_CHAR[bits[:5]] + _CHUNK_CHAR[bits[5:10]] + _CHUNK_CHAR[bits[10:]]


def to18(crm_id: str) -> str:
    """Return the 18-character form of a 15- or 18-character Salesforce id (ids are compared in this form)."""
    if not (isinstance(crm_id, str) and crm_id.isascii() and crm_id.isalnum()):
        raise ValueError(f"Not a Salesforce id: {crm_id!r}")
    if len(crm_id) == 15:
        return crm_id + _id_suffix(crm_id)
    if len(crm_id) == 18:
        # The suffix is case-insensitive; normalising it makes two spellings of one id compare equal.
        return crm_id[:15] + _id_suffix(crm_id[:15])
    raise ValueError(f"Not a Salesforce id: {crm_id!r}")


def make_id(prefix: str, number: int, pod: str = "00") -> str:
    """Build a valid 18-character id: 3-char key prefix, 2-char pod, `number` in 10 base62 digits."""
    digits = []
    for _ in range(10):
        number, remainder = divmod(number, 62)
        digits.append(_BASE62[remainder])
    return to18(prefix + pod + "".join(reversed(digits)))


def soql_datetime(moment: datetime) -> str:
    """Format an aware datetime as a SOQL literal in whole UTC seconds, e.g. 2026-01-05T10:11:12Z.

    Microseconds are dropped (floored): SystemModstamp has second precision, so a `>=` filter on the floored
    value still includes every row of that second.
    """
    if moment.tzinfo is None:
        raise ValueError("SOQL datetimes must be timezone-aware")
    # isoformat is several times faster than strftime, and this runs for every datetime of every synced row.
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def parse_datetime(text: str) -> datetime:
    """Parse a Salesforce datetime (REST `...12.000+0000` or Bulk `...12.000Z`) as an aware UTC datetime."""
    return datetime.fromisoformat(text).astimezone(UTC)


def _as_id(value: Any) -> Any:
    return to18(value) if isinstance(value, str) else value


def _as_bool(value: Any) -> bool:
    return value if isinstance(value, bool) else value.lower() == "true"


def _as_int(value: Any) -> int:
    return int(float(value))


_CONVERSIONS: dict[str, Callable[[Any], Any]] = {
    "id": _as_id,
    "reference": _as_id,
    "boolean": _as_bool,
    "datetime": parse_datetime,
    "date": date.fromisoformat,
    "double": float,
    "currency": float,
    "percent": float,
    "int": _as_int,
}


def _blank_is_none(value: Any) -> Any:
    return None if value == "" else value


def value_converter(field_type: str | None) -> Callable[[Any], Any]:
    """The conversion of one describe type, looked up once per field rather than once per value."""
    conversion = _CONVERSIONS.get(field_type or "")
    if conversion is None:
        return _blank_is_none

    def convert(value: Any) -> Any:
        return None if value is None or value == "" else conversion(value)

    return convert


def typed_value(value: Any, field_type: str | None) -> Any:
    """Convert a JSON or CSV value to the Python type of its describe type; "" is None (Salesforce has no "")."""
    return value_converter(field_type)(value)


def to_api_value(value: Any) -> Any:
    """Turn a typed value back into what the Salesforce JSON API expects."""
    if isinstance(value, datetime):
        return soql_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def with_fields(fields: list[str], required: tuple[str, ...]) -> list[str]:
    """`fields` plus any of `required` it lacks (compared case-insensitively, as SOQL does), order kept."""
    present = {name.lower() for name in fields}
    return [*fields, *(name for name in required if name.lower() not in present)]


def missing_fields(wanted: list[str], available: Mapping[str, Any]) -> list[str]:
    """Describe the fields of `wanted` that `available` lacks, hinting at case mistakes."""
    by_lower = {name.lower(): name for name in available}
    missing = []
    for name in wanted:
        if name in available:
            continue
        actual = by_lower.get(name.lower())
        missing.append(f"{name} (did you mean {actual}?)" if actual else name)
    return missing


# --- The interface ----------------------------------------------------------------------------


class CrmBackend(abc.ABC):
    """What the app needs from a CRM. Records are dicts keyed by Salesforce API field names with typed values.

    Values: datetimes are aware UTC `datetime`, dates `date`, booleans `bool`, numbers `float`/`int`, text `str`,
    null is None; ids are always 18 characters. Every method may raise a `CrmError` subclass.
    """

    #: HTTP requests this backend has made (including retries and logins).
    api_calls: int = 0

    @abc.abstractmethod
    def check(self, fields: list[str]) -> None:
        """Validate at start-up that every mapped Lead field exists; CrmConfigError names the missing ones."""

    @abc.abstractmethod
    def lead_statuses(self) -> list[str]:
        """The active picklist values of Lead.Status, in the CRM's order."""

    @abc.abstractmethod
    def iter_changed(
        self, since: datetime | None, fields: list[str], page_size: int, *, include_deleted: bool = False
    ) -> Iterator[list[dict]]:
        """Yield pages of leads with SystemModstamp >= `since` (all when None), ordered by SystemModstamp, Id.

        The consumer commits each page before asking for the next; pages never skip or reorder rows, so
        the last row's SystemModstamp is a safe watermark. Id and SystemModstamp are always included.
        With `include_deleted` (Salesforce's queryAll) deleted leads still in the recycle bin come too, in the
        same order: their SystemModstamp is the time of the delete, and every row then carries IsDeleted.
        """

    @abc.abstractmethod
    def iter_all_bulk(self, fields: list[str], include_deleted: bool) -> Iterator[list[dict]]:
        """Yield every lead in pages (unordered), with deleted ones too when `include_deleted`.

        Meant for a first import of many leads and for the nightly reconcile. Bulk results cannot tell
        null from "": both arrive as None.
        """

    @abc.abstractmethod
    def count_leads(self) -> int:
        """The number of (non-deleted) leads."""

    @abc.abstractmethod
    def fetch_by_ids(self, ids: list[str], fields: list[str]) -> list[dict]:
        """The non-deleted leads among `ids` (15 or 18 characters); unknown, malformed and deleted ids are left out."""

    @abc.abstractmethod
    def deleted_since(self, start: datetime, end: datetime) -> list[tuple[str, datetime]]:
        """(id, deleted at) for leads deleted in [start, end).

        Raises CrmReplicationWindowExceeded when `start` is older than the CRM keeps deletions. Salesforce covers
        whole minutes only, so let consecutive windows overlap by a minute or two (deletes are idempotent).
        """

    @abc.abstractmethod
    def users(self) -> list[dict]:
        """Every User: Id, Name, FirstName, LastName, Email, IsActive, Username."""

    @abc.abstractmethod
    def update_leads(self, changes: list[tuple[str, dict]]) -> list[WriteResult]:
        """Write field changes to leads, one WriteResult per change in input order.

        Updates are idempotent, so after any CrmError the caller may simply send the whole batch again.
        """

    @abc.abstractmethod
    def api_usage(self) -> tuple[int, int] | None:
        """(used, limit) of the org's daily API allocation as last reported, or None if unknown."""
