"""Fixtures for the CRM adapter tests: the Salesforce emulator, its admin API and backends wired to it."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from handoff.crm.config import SalesforceConfig
from handoff.crm.salesforce import SalesforceBackend
from tests import fake_sf as emulator

# The Lead fields the sync reads, as a field mapping would list them.
LEAD_FIELDS = [
    "Id", "FirstName", "LastName", "Email", "Company", "Title", "Country", "Industry", "LeadSource", "Status",
    "OwnerId", "IsConverted", "ConvertedDate", "ConvertedOpportunityId", "IsDeleted", "CreatedDate",
    "LastModifiedDate", "SystemModstamp", "Lead_Score__c", "MQL_Date__c", "NumberOfEmployees",
    "HasOptedOutOfEmail",
]


@pytest.fixture(scope="session")
def fake_sf() -> Iterator[emulator.FakeServer]:
    """The Salesforce emulator, started once per test session (skips when ../shared is absent)."""
    if not emulator.available():
        pytest.skip(emulator.SKIP_REASON)
    server = emulator.shared_server()
    yield server
    server.stop()


@pytest.fixture
def sf_admin(fake_sf: emulator.FakeServer) -> Iterator[emulator.Admin]:
    """The emulator's admin API, on an empty org with default settings and no faults."""
    admin = emulator.Admin(fake_sf)
    admin.reset()
    yield admin
    admin.clear_faults()


@pytest.fixture
def sleeps() -> list[float]:
    """The delays a backend asked for; tests record them instead of waiting (see `make_backend`)."""
    return []


@pytest.fixture
def make_backend(fake_sf, sf_admin, sleeps) -> Callable[..., SalesforceBackend]:
    """Build a SalesforceBackend on the emulator's session id; keyword arguments override the defaults."""

    def make(config: dict | None = None, **kwargs) -> SalesforceBackend:
        settings = {
            "instance_url": fake_sf.instance_url,
            "session_id": fake_sf.session_id,
            "ca_bundle": fake_sf.ca_bundle,
            **(config or {}),
        }
        kwargs.setdefault("sleep", lambda seconds: (sleeps.append(seconds), time.sleep(min(seconds, 0.02))))
        return SalesforceBackend(SalesforceConfig(**settings), **kwargs)

    return make


@pytest.fixture
def backend(make_backend) -> SalesforceBackend:
    return make_backend()
