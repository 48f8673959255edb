"""Fixtures for the sync tests: the Salesforce emulator, a backend on it, and the mirror-equals-org check."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
import time_machine

from handoff.crm.base import parse_datetime
from handoff.crm.config import SalesforceConfig
from handoff.crm.salesforce import SalesforceBackend
from handoff.models import Lead, SyncRun
from handoff.services.sync import sync_run
from tests import fake_sf as emulator


@pytest.fixture(scope="session")
def sync_sf() -> emulator.FakeServer:
    """The emulator, one process per test session (shared with tests/crm when both run)."""
    if not emulator.available():
        pytest.skip(emulator.SKIP_REASON)
    return emulator.shared_server()


@pytest.fixture
def org(sync_sf) -> Iterator[emulator.Admin]:
    """The emulator's admin API on an empty org; seed it with `org.reset(count=...)`."""
    admin = emulator.Admin(sync_sf)
    admin.reset()
    yield admin
    admin.clear_faults()


@pytest.fixture
def crm(sync_sf, org) -> SalesforceBackend:
    """A Salesforce backend on the emulator. Logging in again (after an expired session) renews the session."""

    def login() -> tuple[str, str]:
        org.session(reset=True)
        return sync_sf.session_id, sync_sf.instance_url

    return SalesforceBackend(
        SalesforceConfig(instance_url=sync_sf.instance_url, session_id=sync_sf.session_id, ca_bundle=sync_sf.ca_bundle),
        login=login,
        sleep=lambda seconds: None,
        retry_base_delay=0,
    )


def org_now(org: emulator.Admin) -> datetime:
    return parse_datetime(org.stats()["now"])


@pytest.fixture
def sync(crm, org, db):
    """Run the sync once against the emulator and return its SyncRun.

    getDeleted sees whole minutes only, so each run first moves the org's clock on two minutes and runs
    with the app's clock set to the org's: what happened before the call is then inside the window.
    """

    def run(kind: str = SyncRun.Kind.INCREMENTAL) -> SyncRun:
        org.call("POST", "clock", {"advance_seconds": 120})
        with time_machine.travel(org_now(org), tick=True):
            return sync_run(kind=kind, backend=crm)

    return run


def org_live_leads(org: emulator.Admin) -> dict[str, str]:
    """Id → SystemModstamp of every live lead in the emulator."""
    ids = org.lead_ids()
    live: dict[str, str] = {}
    for start in range(0, len(ids), 400):
        for record in org.call("GET", "leads", ids=",".join(ids[start : start + 400]))["records"]:
            if record and not record["IsDeleted"]:
                live[record["Id"]] = record["SystemModstamp"]
    return live


def assert_mirror(org: emulator.Admin) -> None:
    """The local live leads are exactly the org's live leads: same ids, same SystemModstamp, no duplicates."""
    expected = {crm_id: parse_datetime(stamp) for crm_id, stamp in org_live_leads(org).items()}
    local = list(Lead.objects.filter(is_deleted=False).values_list("crm_id", "crm_modified_at"))
    assert len(local) == len({crm_id for crm_id, _ in local})
    local_map = dict(local)
    missing = expected.keys() - local_map.keys()
    extra = local_map.keys() - expected.keys()
    stale = [i for i in expected.keys() & local_map.keys() if expected[i] != local_map[i]]
    assert (sorted(missing)[:5], sorted(extra)[:5], sorted(stale)[:5]) == ([], [], [])
    assert len(local_map) == len(expected)


@pytest.fixture(autouse=True)
def _judge_every_imported_lead(settings):
    """These scenarios check the mirror and the rule on every lead, so the first import judges all history."""
    settings.CRM_IMPORT_QUALIFY_DAYS = 0
