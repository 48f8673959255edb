"""The Salesforce backend: simple-salesforce behind timeouts, retries, one re-login and an API budget."""
from __future__ import annotations

import csv
import io
import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import requests
from simple_salesforce import (
    Salesforce,
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceLogin,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

# The public `sf.bulk2.Lead.query()` generator cannot fetch a failed results page again (it dies with the
# exception), so we drive the same client one level down, page by page. simple-salesforce is pinned to 1.12.
from simple_salesforce.bulk2 import JobState, Operation, _Bulk2Client

from .base import (
    MAX_COLLECTION,
    CrmApiBudgetExhausted,
    CrmAuthError,
    CrmBackend,
    CrmConfigError,
    CrmError,
    CrmRateLimited,
    CrmReplicationWindowExceeded,
    CrmUnavailable,
    WriteResult,
    missing_fields,
    parse_datetime,
    soql_datetime,
    to18,
    to_api_value,
    value_converter,
    with_fields,
)
from .config import JWT_VARS, PASSWORD_VARS, AuthMode, SalesforceConfig

log = logging.getLogger(__name__)

T = TypeVar("T")
#: Returns a fresh (session id, instance URL).
LoginFn = Callable[[], tuple[str, str]]

USER_FIELDS = ("Id", "Name", "FirstName", "LastName", "Email", "IsActive", "Username")
# An `Id IN (...)` of 300 ids keeps the GET URL near 7 kB, well under Salesforce's 16 kB limit.
IDS_PER_QUERY = 300
BULK_PAGE_SIZE = 25_000  # rows per Bulk 2.0 results page: the sync holds two (one read ahead)
# getDeleted serves at most 15 days back (the recycle bin); an older start needs a full reconcile.
REPLICATION_WINDOW = timedelta(days=15)

SESSION_EXPIRED_HELP = (
    "Salesforce session expired; set SALESFORCE_USERNAME/SALESFORCE_PASSWORD/SALESFORCE_SECURITY_TOKEN or "
    "SALESFORCE_CONSUMER_KEY/SALESFORCE_PRIVATE_KEY_FILE/SALESFORCE_USERNAME so the app can log in again, "
    "or a fresh SALESFORCE_SESSION_ID"
)


class _GarbledBody(ValueError):
    """A response arrived whole by HTTP's account but its body is cut short or not what the API sends."""


class _CursorLost(CrmError):
    """INVALID_QUERY_LOCATOR: Salesforce released the query cursor (idle 15 min, or >10 open)."""


# Faults worth another try: the same request usually succeeds a moment later.
_TRANSIENT = (
    requests.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.Timeout,
    json.JSONDecodeError,  # requests.exceptions.JSONDecodeError subclasses it: truncated or HTML bodies
    _GarbledBody,
)


class SalesforceHttp(requests.Session):
    """A requests session that gives every request a timeout, counts requests and tracks API usage.

    simple-salesforce never passes a timeout, and a hung socket would stall a Celery worker forever.
    Usage is read here, from every response, because simple-salesforce records Sforce-Limit-Info only for
    some calls (not for Bulk 2.0, and for `sf.Lead.*` only on a throwaway SFType object).
    """

    def __init__(self, timeout: float, ca_bundle: str | None = None):
        super().__init__()
        self.default_timeout = timeout
        self.ca_bundle = ca_bundle
        self.calls = 0
        self.usage: tuple[int, int] | None = None

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        if self.ca_bundle and kwargs.get("verify") in (None, True):
            # Per request, because REQUESTS_CA_BUNDLE in the environment would override `session.verify`.
            kwargs["verify"] = self.ca_bundle
        self.calls += 1
        response = super().request(method, url, *args, **kwargs)
        limit_info = response.headers.get("Sforce-Limit-Info")
        if limit_info:
            usage = Salesforce.parse_api_usage(limit_info).get("api-usage")
            if usage is not None:
                self.usage = (usage.used, usage.total)
        return response


class SalesforceBackend(CrmBackend):
    """Talks to one Salesforce org through simple-salesforce and returns plain, typed data."""

    def __init__(
        self,
        config: SalesforceConfig,
        *,
        login: LoginFn | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 5,
        retry_base_delay: float = 0.5,
        bulk_page_size: int = BULK_PAGE_SIZE,
        bulk_timeout: float = 3600.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        """`login` overrides how a fresh session is obtained (by default from the configured credentials)."""
        config.validate()
        self.config = config
        self._http = SalesforceHttp(config.timeout, config.ca_bundle)
        self._login = login or _credential_login(config, self._http)
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._retry_base_delay = retry_base_delay
        self._bulk_page_size = bulk_page_size
        self._bulk_timeout = bulk_timeout
        self._now = now
        self._session: tuple[str, str] | None = (
            (config.session_id, config.instance_url) if config.auth_mode is AuthMode.SESSION else None  # type: ignore[assignment]
        )
        self._sf: Salesforce | None = None
        self._describe_cache: dict[str, dict[str, dict]] = {}
        self._converters: dict[tuple[str, str], Callable[[Any], Any]] = {}

    @classmethod
    def from_env(cls, **kwargs: Any) -> SalesforceBackend:
        return cls(SalesforceConfig.from_env(), **kwargs)

    # --- The interface -------------------------------------------------------------------------

    @property
    def api_calls(self) -> int:  # type: ignore[override]
        return self._http.calls

    def api_usage(self) -> tuple[int, int] | None:
        return self._http.usage

    def check(self, fields: list[str]) -> None:
        missing = missing_fields(fields, self._describe("Lead"))
        if missing:
            raise CrmConfigError(
                f"Salesforce Lead has no field {', '.join(missing)}: fix the field mapping, or create the fields "
                "and give the integration user read access to them."
            )

    def lead_statuses(self) -> list[str]:
        status = self._describe("Lead").get("Status") or {}
        return [value["value"] for value in status.get("picklistValues", []) if value.get("active", True)]

    def count_leads(self) -> int:
        return self._call(lambda sf: sf.query("SELECT COUNT() FROM Lead"), "count leads")["totalSize"]

    def iter_changed(
        self, since: datetime | None, fields: list[str], page_size: int, *, include_deleted: bool = False
    ) -> Iterator[list[dict]]:
        """See CrmBackend. One page per Salesforce response: `page_size` is sent as batchSize, which Salesforce
        clamps to 200-2,000 (and may still undercut for wide rows). A failed page is fetched again by its
        nextRecordsUrl; a released cursor is replaced by a new query from the last yielded SystemModstamp.
        With `include_deleted` the query goes to queryAll, whose nextRecordsUrl pages on through queryAll.
        """
        required = ("Id", "SystemModstamp", "IsDeleted") if include_deleted else ("Id", "SystemModstamp")
        select = self._canonical("Lead", with_fields(fields, required))
        options = {"Sforce-Query-Options": f"batchSize={max(200, min(2000, page_size))}"}
        watermark = _Watermark(since)

        def run_query() -> dict:
            soql = f"SELECT {', '.join(select)} FROM Lead"
            if watermark.resume_from is not None:
                soql += f" WHERE SystemModstamp >= {soql_datetime(watermark.resume_from)}"
            soql += " ORDER BY SystemModstamp, Id"
            return self._call(
                lambda sf: sf.query(soql, include_deleted=include_deleted, headers=options), "query changed leads"
            )

        page = run_query()
        stalled_restarts, progressed = 0, False
        while True:
            rows = watermark.accept([self._typed("Lead", record) for record in page["records"]])
            if rows:
                progressed = True
                yield rows
            if page["done"]:
                return
            next_url = page["nextRecordsUrl"]
            try:
                page = self._call(
                    lambda sf, url=next_url: sf.query_more(
                        url, identifier_is_url=True, include_deleted=include_deleted, headers=options
                    ),
                    "query next page",
                )
            except _CursorLost:
                # Re-query from the last yielded second; `watermark` drops the rows of that second already
                # yielded. A same-second group bigger than a page could loop here, hence the limit.
                stalled_restarts, progressed = (0 if progressed else stalled_restarts + 1), False
                if stalled_restarts >= 3:
                    raise CrmUnavailable("Salesforce keeps releasing the query cursor before a page is read") from None
                log.warning("Salesforce query cursor lost; resuming from SystemModstamp %s", watermark.resume_from)
                page = run_query()

    def iter_all_bulk(self, fields: list[str], include_deleted: bool) -> Iterator[list[dict]]:
        """See CrmBackend. A Bulk API 2.0 query job (queryAll with deleted rows), read `bulk_page_size` rows
        (25,000 by default) per results page, so memory holds a page or two at a time."""
        select = self._canonical("Lead", with_fields(fields, ("Id",)))
        soql = f"SELECT {', '.join(select)} FROM Lead"
        operation = Operation.query_all if include_deleted else Operation.query
        job = self._call(lambda sf: _bulk(sf).create_job(operation, soql), "create Bulk 2.0 query job")
        self._wait_for_job(job["id"])
        locator = ""
        while True:
            # Each results page is fetched (and retried) on its own: a fault never restarts the whole export.
            rows, locator = self._call(
                lambda sf, at=locator: self._bulk_page(sf, job["id"], at, select), "read Bulk 2.0 results"
            )
            if rows:
                convert = [self._converter("Lead", name) for name in select]
                yield [
                    {name: conversion(value) for name, conversion, value in zip(select, convert, row, strict=True)}
                    for row in rows
                ]
            if not locator:
                return

    def fetch_by_ids(self, ids: list[str], fields: list[str]) -> list[dict]:
        select = ", ".join(self._canonical("Lead", with_fields(fields, ("Id",))))
        unique = list(dict.fromkeys(filter(None, map(_valid_id, ids))))
        found: list[dict] = []
        for start in range(0, len(unique), IDS_PER_QUERY):
            chunk = unique[start : start + IDS_PER_QUERY]
            # Ids that passed to18 are ASCII letters and digits only, so quoting them cannot inject SOQL.
            quoted = ", ".join(f"'{crm_id}'" for crm_id in chunk)
            soql = f"SELECT {select} FROM Lead WHERE Id IN ({quoted})"
            found.extend(self._typed("Lead", record) for record in self._query_all(soql))
        return found

    def deleted_since(self, start: datetime, end: datetime) -> list[tuple[str, datetime]]:
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if start < self._now() - REPLICATION_WINDOW:
            raise CrmReplicationWindowExceeded(
                f"getDeleted reaches back {REPLICATION_WINDOW.days} days; {start:%Y-%m-%d %H:%M} is older"
            )
        # Salesforce ignores seconds and rejects an end that does not follow the start by a whole minute.
        if end.replace(second=0, microsecond=0) <= start.replace(second=0, microsecond=0):
            return []
        result = self._call(lambda sf: sf.Lead.deleted(start, end), "getDeleted")
        return [(to18(item["id"]), parse_datetime(item["deletedDate"])) for item in result.get("deletedRecords", [])]

    def users(self) -> list[dict]:
        return [self._typed("User", record) for record in self._query_all(f"SELECT {', '.join(USER_FIELDS)} FROM User")]

    def update_leads(self, changes: list[tuple[str, dict]]) -> list[WriteResult]:
        results: list[WriteResult | None] = [None] * len(changes)
        sendable: list[tuple[int, str, dict]] = []
        for position, (crm_id, values) in enumerate(changes):
            valid = _valid_id(crm_id)
            if valid is None:
                results[position] = WriteResult.failed(crm_id, "MALFORMED_ID", f"Not a Salesforce id: {crm_id!r}")
            else:
                sendable.append((position, valid, values))
        for start in range(0, len(sendable), MAX_COLLECTION):
            chunk = sendable[start : start + MAX_COLLECTION]
            body = {
                # allOrNone=false: one converted lead must not roll back the other 199 updates.
                "allOrNone": False,
                "records": [
                    {"attributes": {"type": "Lead"}, **{k: to_api_value(v) for k, v in values.items()}, "id": crm_id}
                    for _, crm_id, values in chunk
                ],
            }
            response = self._call(
                lambda sf, body=body: sf.restful("composite/sobjects", method="PATCH", json=body), "update leads"
            )
            if not isinstance(response, list) or len(response) != len(chunk):
                raise CrmError(f"Unexpected sObject Collections response: {response!r}"[:500])
            for (position, crm_id, _), item in zip(chunk, response, strict=True):
                results[position] = _write_result(crm_id, item)
        return [result for result in results if result is not None]

    # --- Calls, retries, re-login, budget ------------------------------------------------------

    def _call(self, action: Callable[[Salesforce], T], what: str) -> T:
        """Run `action` against the API, translating simple-salesforce and requests errors into CrmErrors.

        Transient faults are retried with exponential backoff; an expired session triggers one re-login.
        """
        attempt = 1
        logged_in_again = False
        while True:
            self._check_budget()
            try:
                return action(self._client())
            except SalesforceExpiredSession as exc:
                if self._login is None:
                    raise CrmAuthError(SESSION_EXPIRED_HELP) from exc
                if logged_in_again:
                    raise CrmAuthError(f"{SESSION_EXPIRED_HELP} (a fresh login was rejected too)") from exc
                log.info("Salesforce session expired during %s; logging in again", what)
                self._session, self._sf = None, None
                logged_in_again = True
            except SalesforceRefusedRequest as exc:
                if _error_code(exc) == "REQUEST_LIMIT_EXCEEDED":
                    raise CrmRateLimited(f"Salesforce API request limit exceeded during {what}; try later") from exc
                raise CrmError(f"Salesforce refused {what}: {_error_text(exc)}") from exc
            except SalesforceMalformedRequest as exc:
                code = _error_code(exc)
                if code == "INVALID_QUERY_LOCATOR":
                    raise _CursorLost(_error_text(exc)) from exc
                if code == "INVALID_REPLICATION_DATE":
                    raise CrmReplicationWindowExceeded(_error_text(exc)) from exc
                raise CrmError(f"Salesforce rejected {what}: {_error_text(exc)}") from exc
            except requests.exceptions.SSLError as exc:
                raise CrmConfigError(
                    f"TLS verification of Salesforce failed ({exc}); set SALESFORCE_CA_BUNDLE (or "
                    "REQUESTS_CA_BUNDLE) to a CA bundle that trusts the server."
                ) from exc
            except (SalesforceGeneralError, *_TRANSIENT) as exc:
                if isinstance(exc, SalesforceGeneralError) and exc.status < 500:
                    raise CrmError(f"Salesforce failed {what}: {_error_text(exc)}") from exc
                if attempt >= self._max_attempts:
                    raise CrmUnavailable(
                        f"Salesforce {what} failed {attempt} times; last error: {_short(exc)}"
                    ) from exc
                delay = self._backoff(attempt)
                log.warning("Salesforce %s failed (%s); retry %d in %.1fs", what, _short(exc), attempt, delay)
                self._sleep(delay)
                attempt += 1
            except SalesforceError as exc:
                raise CrmError(f"Salesforce failed {what}: {exc}") from exc

    def _backoff(self, attempt: int) -> float:
        # Exponential with jitter, so workers that failed together do not retry in lockstep.
        return min(30.0, self._retry_base_delay * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)

    def _check_budget(self) -> None:
        usage = self._http.usage
        if usage and usage[1] and usage[0] / usage[1] >= self.config.max_api_share:
            raise CrmApiBudgetExhausted(usage[0], usage[1], self.config.max_api_share)

    def _client(self) -> Salesforce:
        if self._sf is None:
            if self._session is None:
                if self._login is None:
                    raise CrmAuthError(SESSION_EXPIRED_HELP)
                self._session = self._login()
            session_id, instance_url = self._session
            # Always "direct" mode: simple-salesforce then never logs in or refreshes on its own, so the
            # one-re-login policy above is the only one in play.
            self._sf = Salesforce(
                instance_url=instance_url,
                session_id=session_id,
                version=self.config.api_version,
                session=self._http,
                object_pairs_hook=dict,
            )
        return self._sf

    # --- Helpers -------------------------------------------------------------------------------

    def _query_all(self, soql: str) -> Iterator[dict]:
        """Every record of a query, page by page, each page retried on its own."""
        page = self._call(lambda sf: sf.query(soql), "query")
        while True:
            yield from page["records"]
            if page["done"]:
                return
            next_url = page["nextRecordsUrl"]
            page = self._call(lambda sf, url=next_url: sf.query_more(url, identifier_is_url=True), "query next page")

    def _describe(self, sobject: str) -> dict[str, dict]:
        if sobject not in self._describe_cache:
            result = self._call(lambda sf: getattr(sf, sobject).describe(), f"describe {sobject}")
            self._describe_cache[sobject] = {field["name"]: field for field in result["fields"]}
        return self._describe_cache[sobject]

    def _canonical(self, sobject: str, fields: list[str]) -> list[str]:
        """Field names spelled as describe spells them, so record keys match whatever the caller asked for."""
        by_lower = {name.lower(): name for name in self._describe(sobject)}
        return [by_lower.get(name.lower(), name) for name in fields]

    def _converter(self, sobject: str, name: str) -> Callable[[Any], Any]:
        key = (sobject, name)
        if key not in self._converters:
            described = self._describe(sobject)
            self._converters[key] = value_converter(described[name]["type"] if name in described else None)
        return self._converters[key]

    def _typed(self, sobject: str, record: dict) -> dict:
        return {
            name: self._converter(sobject, name)(value) for name, value in record.items() if name != "attributes"
        }

    def _wait_for_job(self, job_id: str) -> None:
        deadline = time.monotonic() + self._bulk_timeout
        delay = 0.25
        while True:
            job = self._call(lambda sf: _bulk(sf).get_job(job_id, True), "read Bulk 2.0 job")
            if job["state"] == JobState.job_complete:
                return
            if job["state"] in (JobState.failed, JobState.aborted):
                raise CrmError(f"Bulk 2.0 query job {job_id} {job['state']}: {job.get('errorMessage') or ''}")
            if time.monotonic() > deadline:
                raise CrmUnavailable(f"Bulk 2.0 query job {job_id} still {job['state']} after {self._bulk_timeout}s")
            self._sleep(delay)
            delay = min(delay * 2, 10.0)

    def _bulk_page(
        self, sf: Salesforce, job_id: str, locator: str, select: list[str]
    ) -> tuple[list[list[str]], str]:
        """One results page as rows of strings in `select` order, plus the next locator ("" at the end)."""
        try:
            result = _bulk(sf).get_query_results(job_id, locator, self._bulk_page_size)
        except KeyError as exc:  # no Sforce-NumberOfRecords: an HTML page or a proxy's answer, not Salesforce's
            raise _GarbledBody(f"Bulk 2.0 results without {exc} header") from exc
        return _parse_csv_page(result["records"], result["number_of_records"], select), result["locator"]


class _Watermark:
    """The last yielded (SystemModstamp, Id) keys, so a re-issued `>=` query never yields a row twice."""

    def __init__(self, since: datetime | None):
        self.since = since
        self.stamp: datetime | None = None
        self.ids_at_stamp: set[str] = set()

    @property
    def resume_from(self) -> datetime | None:
        return self.stamp or self.since

    def accept(self, rows: list[dict]) -> list[dict]:
        fresh = []
        for row in rows:
            stamp, crm_id = row["SystemModstamp"], row["Id"]
            if stamp == self.stamp and crm_id in self.ids_at_stamp:
                continue
            if self.stamp is None or stamp > self.stamp:
                self.stamp, self.ids_at_stamp = stamp, set()
            if stamp == self.stamp:
                self.ids_at_stamp.add(crm_id)
            fresh.append(row)
        return fresh


def _bulk(sf: Salesforce) -> _Bulk2Client:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {sf.session_id}", "X-PrettyPrint": "1"}
    return _Bulk2Client("Lead", sf.bulk2_url, headers, sf.session)


def _parse_csv_page(text: str, expected: int, select: list[str]) -> list[list[str]]:
    """Parse a Bulk 2.0 CSV page into rows in `select` order; a cut or foreign body (row count or header
    mismatch) is `_GarbledBody`."""
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, None)
        rows = [row for row in reader if row]
    except csv.Error as exc:
        raise _GarbledBody(f"unreadable Bulk 2.0 CSV: {exc}") from exc
    if header is None and expected == 0:
        return []
    if header is None or [name.lower() for name in header] != [name.lower() for name in select]:
        raise _GarbledBody(f"Bulk 2.0 CSV header {header!r:.200} does not match the query")
    if len(rows) != expected or any(len(row) != len(header) for row in rows):
        raise _GarbledBody(f"Bulk 2.0 page has {len(rows)} complete rows, Salesforce announced {expected}")
    return rows


def _valid_id(crm_id: str) -> str | None:
    try:
        return to18(crm_id)
    except (TypeError, ValueError):
        return None


def _write_result(crm_id: str, item: dict) -> WriteResult:
    if item.get("success"):
        return WriteResult(crm_id, ok=True)
    error = (item.get("errors") or [{}])[0]
    return WriteResult.failed(crm_id, error.get("statusCode") or "UNKNOWN_ERROR", error.get("message") or "")


def _credential_login(config: SalesforceConfig, http: requests.Session) -> LoginFn | None:
    """A function that logs in with the configured username/password/token or JWT key; None for a session id."""
    if not config.can_login:
        return None
    if config.auth_mode is AuthMode.JWT:
        names = JWT_VARS
        arguments: dict[str, Any] = {
            "username": config.username,
            "consumer_key": config.consumer_key,
            "privatekey_file": config.private_key_file,
        }
    else:
        names = PASSWORD_VARS
        arguments = {
            "username": config.username,
            "password": config.password,
            "security_token": config.security_token,
            "sf_version": config.api_version,
        }

    def login() -> tuple[str, str]:
        try:
            session_id, instance = SalesforceLogin(session=http, domain=config.domain, **arguments)
        except SalesforceAuthenticationFailed as exc:
            raise CrmAuthError(
                f"Salesforce login failed ({exc}); check {', '.join(names)} and SALESFORCE_DOMAIN"
            ) from exc
        return session_id, instance if instance.startswith("https://") else f"https://{instance}"

    return login


def _error_code(exc: SalesforceError) -> str | None:
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return content[0].get("errorCode")
    return None


def _error_text(exc: SalesforceError) -> str:
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return f"{content[0].get('errorCode')}: {content[0].get('message')}"
    return _short(exc)


def _short(exc: BaseException) -> str:
    text = str(exc) if not isinstance(exc, SalesforceError) else f"HTTP {exc.status}: {exc.content!r}"
    return f"{type(exc).__name__}: {text[:300]}"
