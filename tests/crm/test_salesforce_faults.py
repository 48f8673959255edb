"""Faults while reading: expired sessions, 5xx, garbled bodies, dropped connections, limits and lost cursors."""
from __future__ import annotations

import time

import pytest
from simple_salesforce import SalesforceAuthenticationFailed

from handoff.crm import (
    CrmApiBudgetExhausted,
    CrmAuthError,
    CrmConfigError,
    CrmRateLimited,
    CrmUnavailable,
)

from .conftest import LEAD_FIELDS

pytestmark = pytest.mark.emulator


def collect(pages) -> list[tuple]:
    return [(row["SystemModstamp"], row["Id"]) for page in pages for row in page]


def assert_complete(rows: list[tuple], sf_admin) -> None:
    """Every live lead exactly once, in SystemModstamp, Id order."""
    assert rows == sorted(rows)
    assert len({crm_id for _, crm_id in rows}) == len(rows) == sf_admin.stats()["leads_live"]


def query_requests(sf_admin) -> list[dict]:
    return [r for r in sf_admin.requests() if "/query" in r["path"]]


@pytest.fixture
def org(sf_admin):
    """5,000 leads, read in pages of 500: ten pages per full read."""
    sf_admin.reset(count=5000)
    return sf_admin


def test_expired_session_without_credentials_names_the_variables_to_set(org, backend):
    org.fault(action="expire_session", query_page=3)
    pages = backend.iter_changed(None, LEAD_FIELDS, page_size=500)

    received = [next(pages), next(pages)]
    with pytest.raises(CrmAuthError) as error:
        next(pages)

    assert len(received) == 2
    for variable in ("SALESFORCE_USERNAME", "SALESFORCE_PASSWORD", "SALESFORCE_SECURITY_TOKEN",
                     "SALESFORCE_SESSION_ID"):
        assert variable in str(error.value)


def test_expired_session_logs_in_once_and_resumes_without_losing_rows(fake_sf, org, make_backend):
    logins = []

    def login() -> tuple[str, str]:
        logins.append(1)
        org.session(reset=True)
        return fake_sf.session_id, fake_sf.instance_url

    org.fault(action="expire_session", query_page=3)
    backend = make_backend(login=login)

    rows = collect(backend.iter_changed(None, LEAD_FIELDS, page_size=500))

    assert len(logins) == 1
    assert_complete(rows, org)


def test_a_login_that_does_not_help_gives_up_after_one_try(fake_sf, org, make_backend):
    logins = []
    org.fault(action="expire_session", query_page=2)
    backend = make_backend(login=lambda: logins.append(1) or (fake_sf.session_id, fake_sf.instance_url))

    with pytest.raises(CrmAuthError, match="fresh login was rejected"):
        collect(backend.iter_changed(None, ["Id"], page_size=500))
    assert len(logins) == 1


def test_503_twice_is_retried_with_growing_backoff(org, backend, sleeps):
    org.fault(action="error", status=503, times=2, query_page=2)

    rows = collect(backend.iter_changed(None, LEAD_FIELDS, page_size=500))

    assert_complete(rows, org)
    assert len(sleeps) == 2
    assert 0.25 <= sleeps[0] <= 0.5 and 0.5 <= sleeps[1] <= 1.0


@pytest.mark.parametrize(
    "fault",
    [
        {"action": "truncate"},
        {"action": "malformed"},
        {"action": "malformed", "status": 503},
        {"action": "error", "status": 502},  # an HTML gateway page
        {"action": "drop_connection"},
    ],
    ids=["truncate", "malformed-200", "malformed-503", "html-502", "drop-connection"],
)
def test_garbled_or_cut_responses_are_fetched_again(org, backend, fault):
    org.fault(**fault, query_page=3)

    rows = collect(backend.iter_changed(None, LEAD_FIELDS, page_size=500))

    assert_complete(rows, org)
    assert org.faults()[0]["fired"] == 1


def test_a_failed_cursor_page_is_fetched_again_not_the_query(org, backend):
    org.fault(action="error", status=500, query_page=3)

    rows = collect(backend.iter_changed(None, ["Id"], page_size=500))

    assert_complete(rows, org)
    paths = [r["path"] for r in query_requests(org)]
    failed = next(r for r in query_requests(org) if r["status"] == 500)
    assert paths.count(failed["path"]) == 2  # the same locator and offset, once failed, once served
    assert sum(1 for r in query_requests(org) if "q=" in r["query"]) == 1


def test_faults_that_persist_end_in_crm_unavailable_with_the_last_error(org, backend, sleeps):
    org.fault(action="error", status=500, times=0)

    with pytest.raises(CrmUnavailable, match="failed 5 times.*500"):
        backend.count_leads()
    assert len(sleeps) == 4


def test_rate_limit_stops_at_once(org, backend, sleeps):
    org.fault(action="rate_limit", query_page=2)
    pages = backend.iter_changed(None, ["Id"], page_size=500)
    next(pages)

    with pytest.raises(CrmRateLimited):
        next(pages)
    assert sleeps == []
    assert len(query_requests(org)) == 2


def test_a_slow_response_times_out_and_is_retried(org, make_backend):
    backend = make_backend({"timeout": 0.3})
    org.fault(action="latency", latency_ms=800, query_page=2)

    rows = collect(backend.iter_changed(None, ["Id"], page_size=2000))

    assert_complete(rows, org)
    # Let the abandoned slow request finish here rather than land in the next test's request log.
    deadline = time.monotonic() + 5
    while not any(r["ms"] >= 800 for r in org.requests()) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_lost_cursor_resumes_from_the_last_stamp_without_loss_or_duplicates(org, backend, make_backend):
    org.config(max_open_cursors=1)
    pages = backend.iter_changed(None, LEAD_FIELDS, page_size=500)
    rows = collect([next(pages), next(pages)])

    # Another query opens a cursor, which evicts ours: Salesforce keeps at most N open per user.
    next(make_backend().iter_changed(None, ["Id"], page_size=500))
    rows += collect(pages)

    assert_complete(rows, org)
    assert sum(1 for r in query_requests(org) if r["status"] == 400) == 1


def test_a_lost_cursor_inside_a_same_second_group_skips_only_rows_already_yielded(sf_admin, backend):
    stamp = "2026-01-05T10:11:12.000+0000"
    sf_admin.insert_leads([{"LastName": f"Mass {n}", "SystemModstamp": stamp} for n in range(650)])
    sf_admin.insert_leads([{"LastName": "Later", "SystemModstamp": "2026-01-05T10:11:13.000+0000"}])
    sf_admin.fault(action="error", status=400, error_code="INVALID_QUERY_LOCATOR", query_page=3)

    rows = collect(backend.iter_changed(None, ["Id"], page_size=200))

    assert rows == sorted(rows)
    assert len(rows) == len(set(rows)) == 651


def test_a_lost_queryall_cursor_resumes_through_queryall(org, backend):
    org.mutate(count=0, delete=40, seed=2)
    org.fault(action="error", status=400, error_code="INVALID_QUERY_LOCATOR", query_page=3)
    first_request = org.stats()["api_requests"]

    rows = collect(backend.iter_changed(None, ["Id"], page_size=500, include_deleted=True))

    assert rows == sorted(rows)
    assert len({crm_id for _, crm_id in rows}) == len(rows) == org.stats()["leads"]
    reads = [r["path"] for r in query_requests(org) if r["seq"] > first_request]
    assert all("/queryAll" in path for path in reads)
    assert sum(path.rstrip("/").endswith("/queryAll") for path in reads) == 2  # the query, then its re-issue


def test_the_api_budget_stops_a_read_after_the_page_that_crossed_it(org, backend):
    # describe costs a call: it leaves usage at 79/100, the first page at 80/100 = the 0.8 share.
    org.config(api_limit=100, api_used=78)
    pages = backend.iter_changed(None, ["Id"], page_size=500)

    first = next(pages)
    with pytest.raises(CrmApiBudgetExhausted) as error:
        next(pages)

    assert len(first) == 500
    assert (error.value.used, error.value.limit) == (80, 100)
    assert backend.api_usage() == (80, 100)
    assert backend.api_calls == 2


def test_an_untrusted_certificate_is_a_configuration_error(org, make_backend, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    backend = make_backend({"ca_bundle": None})

    with pytest.raises(CrmConfigError, match="SALESFORCE_CA_BUNDLE"):
        backend.count_leads()


class FakeLogin:
    """Stands in for simple-salesforce's SalesforceLogin, which the emulator cannot serve (no login endpoint)."""

    def __init__(self, fake_sf, sf_admin, fail: bool = False):
        self.fake_sf, self.sf_admin, self.fail = fake_sf, sf_admin, fail
        self.calls: list[dict] = []

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        if self.fail:
            raise SalesforceAuthenticationFailed("INVALID_LOGIN", "Invalid username, password, security token")
        self.sf_admin.session(reset=True)
        return self.fake_sf.session_id, self.fake_sf.instance_url.removeprefix("https://")


PASSWORD_LOGIN = {"instance_url": None, "session_id": None, "username": "sync@acme.example", "password": "pw",
                  "security_token": "tok", "domain": "test"}


def test_password_credentials_log_in_on_first_use_and_again_when_the_session_expires(
    fake_sf, org, make_backend, monkeypatch
):
    login = FakeLogin(fake_sf, org)
    monkeypatch.setattr("handoff.crm.salesforce.SalesforceLogin", login)
    backend = make_backend(PASSWORD_LOGIN)
    assert login.calls == []  # constructing a backend makes no request

    org.fault(action="expire_session", query_page=4)
    rows = collect(backend.iter_changed(None, ["Id"], page_size=500))

    assert_complete(rows, org)
    assert len(login.calls) == 2
    assert login.calls[0]["username"] == "sync@acme.example" and login.calls[0]["domain"] == "test"
    # The login goes through the backend's session, so it has the same timeout and CA bundle.
    assert login.calls[0]["session"] is backend._http


def test_a_rejected_login_names_the_credential_variables(fake_sf, org, make_backend, monkeypatch):
    monkeypatch.setattr("handoff.crm.salesforce.SalesforceLogin", FakeLogin(fake_sf, org, fail=True))
    backend = make_backend(PASSWORD_LOGIN)

    with pytest.raises(CrmAuthError) as error:
        backend.count_leads()

    assert "INVALID_LOGIN" in str(error.value)
    for variable in ("SALESFORCE_USERNAME", "SALESFORCE_PASSWORD", "SALESFORCE_SECURITY_TOKEN", "SALESFORCE_DOMAIN"):
        assert variable in str(error.value)
