"""Reading leads, users and deletions from the Salesforce emulator: paging, order, types, Bulk 2.0, getDeleted."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from handoff.crm import CrmConfigError, CrmReplicationWindowExceeded
from handoff.crm.base import parse_datetime

from .conftest import LEAD_FIELDS

pytestmark = pytest.mark.emulator


def keys(pages: list[list[dict]]) -> list[tuple[datetime, str]]:
    return [(row["SystemModstamp"], row["Id"]) for page in pages for row in page]


def test_iter_changed_pages_every_live_lead_once_in_stamp_then_id_order(sf_admin, backend):
    sf_admin.reset(count=5000)
    live = sf_admin.stats()["leads_live"]

    pages = list(backend.iter_changed(None, LEAD_FIELDS, page_size=500))

    assert len(pages) == -(-live // 500)
    assert all(len(page) <= 500 for page in pages)
    order = keys(pages)
    assert order == sorted(order)
    assert len({crm_id for _, crm_id in order}) == len(order) == live


def test_iter_changed_since_is_inclusive_and_filters_older_rows(sf_admin, backend):
    sf_admin.reset(count=2000)
    everything = keys(list(backend.iter_changed(None, ["Id"], page_size=2000)))
    watermark = everything[len(everything) // 2][0]

    newer = keys(list(backend.iter_changed(watermark, ["Id"], page_size=2000)))

    assert newer == [key for key in everything if key[0] >= watermark]


def test_iter_changed_with_deleted_rows_pages_through_queryall_with_the_stamps_the_deletes_moved(sf_admin, backend):
    sf_admin.reset(count=3000)
    deleted = sf_admin.mutate(count=0, delete=3, seed=5)["deleted"]
    stats = sf_admin.stats()
    first_request = stats["api_requests"]

    pages = list(backend.iter_changed(None, ["Id", "LastName"], page_size=500, include_deleted=True))

    rows = [row for page in pages for row in page]
    order = keys(pages)
    assert order == sorted(order)
    assert len({crm_id for _, crm_id in order}) == len(rows) == stats["leads"]  # the recycle bin too
    assert sum(row["IsDeleted"] for row in rows) == stats["leads_deleted"] > len(deleted)
    assert all(isinstance(row["IsDeleted"], bool) for row in rows)
    by_id = {row["Id"]: row for row in rows}
    for crm_id in deleted:
        assert by_id[crm_id]["IsDeleted"] is True
        assert by_id[crm_id]["SystemModstamp"] == parse_datetime(sf_admin.lead(crm_id)["SystemModstamp"])
    reads = [r["path"] for r in sf_admin.requests() if r["seq"] > first_request and "/query" in r["path"]]
    assert len(reads) == len(pages) > 1 and all("/queryAll" in path for path in reads)
    # Without the flag the same read stays on query and sees live rows only.
    assert sum(len(page) for page in backend.iter_changed(None, ["Id"], page_size=2000)) == stats["leads_live"]


def test_a_same_second_group_larger_than_a_page_arrives_whole(sf_admin, backend):
    stamp = "2026-01-05T10:11:12.000+0000"
    sf_admin.insert_leads([{"LastName": f"Mass {n}", "SystemModstamp": stamp} for n in range(650)])
    sf_admin.insert_leads([{"LastName": "Earlier", "SystemModstamp": "2026-01-05T10:11:11.000+0000"}])

    since = datetime(2026, 1, 5, 10, 11, 12, 999_000, tzinfo=UTC)  # microseconds are floored away
    pages = list(backend.iter_changed(since, ["Id", "LastName"], page_size=200))

    assert [len(page) for page in pages] == [200, 200, 200, 50]
    assert {row["SystemModstamp"] for page in pages for row in page} == {datetime(2026, 1, 5, 10, 11, 12, tzinfo=UTC)}
    assert len({row["Id"] for page in pages for row in page}) == 650


def test_records_are_typed_plain_dicts_with_18_character_ids(sf_admin, backend):
    [inserted] = sf_admin.insert_leads([{
        "LastName": "Ng", "FirstName": None, "Company": "", "Lead_Score__c": 42.5, "MQL_Date__c": "2026-01-02",
        "NumberOfEmployees": 120, "HasOptedOutOfEmail": True, "SystemModstamp": "2026-01-05T10:11:12.000+0000",
    }])

    [lead] = backend.fetch_by_ids([inserted["Id"][:15]], LEAD_FIELDS)

    assert type(lead) is dict and "attributes" not in lead
    assert lead["Id"] == inserted["Id"] and len(lead["Id"]) == 18
    assert lead["SystemModstamp"] == datetime(2026, 1, 5, 10, 11, 12, tzinfo=UTC)
    assert lead["CreatedDate"].tzinfo == UTC
    assert lead["Lead_Score__c"] == 42.5 and isinstance(lead["Lead_Score__c"], float)
    assert lead["MQL_Date__c"] == date(2026, 1, 2)
    assert lead["NumberOfEmployees"] == 120 and isinstance(lead["NumberOfEmployees"], int)
    assert lead["HasOptedOutOfEmail"] is True and lead["IsConverted"] is False
    assert lead["FirstName"] is None and lead["Company"] is None
    assert len(lead["OwnerId"]) == 18


def test_bulk_export_streams_pages_with_the_same_rows_as_rest(sf_admin, make_backend):
    sf_admin.reset(count=5000)
    backend = make_backend(bulk_page_size=2000)

    rest = {row["Id"]: row for page in backend.iter_changed(None, LEAD_FIELDS, page_size=2000) for row in page}
    bulk_pages = list(backend.iter_all_bulk(LEAD_FIELDS, include_deleted=False))

    assert [len(page) for page in bulk_pages] == [2000, 2000, len(rest) - 4000]
    bulk = {row["Id"]: row for page in bulk_pages for row in page}
    assert bulk == rest


def test_bulk_export_with_deleted_rows_is_what_the_reconcile_reads(sf_admin, backend):
    sf_admin.reset(count=1500)
    stats = sf_admin.stats()

    rows = [row for page in backend.iter_all_bulk(["Id", "SystemModstamp", "IsDeleted"], True) for row in page]

    assert len(rows) == stats["leads"]
    assert sum(row["IsDeleted"] for row in rows) == stats["leads_deleted"] > 0
    assert set(rows[0]) == {"Id", "SystemModstamp", "IsDeleted"}


def test_count_leads_counts_live_leads(sf_admin, backend):
    sf_admin.reset(count=700)

    assert backend.count_leads() == sf_admin.stats()["leads_live"]


def test_fetch_by_ids_asks_for_at_most_300_ids_per_query_and_skips_deleted(sf_admin, backend):
    sf_admin.reset(count=700)
    ids = sf_admin.lead_ids()[:650]
    deleted = sf_admin.delete_lead(ids[0])["Id"]
    first_request = sf_admin.stats()["api_requests"]

    leads = backend.fetch_by_ids([*ids, ids[1]], ["Id", "LastName"])

    live = {r["Id"] for r in sf_admin.call("GET", "leads", ids=",".join(ids))["records"] if not r["IsDeleted"]}
    assert deleted not in live
    assert {lead["Id"] for lead in leads} == live
    queries = [r for r in sf_admin.requests(since=first_request) if r["path"].rstrip("/").endswith("/query")]
    assert len(queries) == 3


def test_users_are_plain_typed_dicts(sf_admin, backend):
    users = backend.users()

    assert users and all(set(user) == {"Id", "Name", "FirstName", "LastName", "Email", "IsActive", "Username"}
                         for user in users)
    assert all(user["Id"].startswith("005") and len(user["Id"]) == 18 for user in users)
    assert {user["IsActive"] for user in users} == {True, False}


def test_check_names_missing_fields_and_case_mistakes(backend):
    backend.check(LEAD_FIELDS)

    with pytest.raises(CrmConfigError) as error:
        backend.check(["Id", "Budget__c", "lead_score__c"])

    assert "Budget__c" in str(error.value)
    assert "lead_score__c (did you mean Lead_Score__c?)" in str(error.value)


def test_lead_statuses_come_from_the_status_picklist(backend):
    assert backend.lead_statuses() == [
        "Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted",
    ]


def test_deleted_since_lists_deletions_in_the_window(sf_admin, make_backend):
    sf_admin.reset(count=300)
    deleted = sf_admin.mutate(count=0, delete=4)["deleted"]
    # getDeleted covers whole minutes up to the current one, so let the server's clock move on; other tests
    # move it too, so the org's "now" is the server's, not this machine's.
    sf_admin.call("POST", "clock", {"advance_seconds": 120})
    now = parse_datetime(sf_admin.stats()["now"])
    backend = make_backend(now=lambda: now)

    found = backend.deleted_since(now - timedelta(hours=1), now)

    assert set(deleted) <= {crm_id for crm_id, _ in found}
    assert all(isinstance(when, datetime) and when.tzinfo == UTC for _, when in found)


def test_deleted_since_beyond_the_replication_window_asks_for_a_reconcile(sf_admin, backend):
    now = datetime.now(UTC)
    first_request = sf_admin.stats()["api_requests"]

    with pytest.raises(CrmReplicationWindowExceeded):
        backend.deleted_since(now - timedelta(days=16), now)
    assert sf_admin.stats()["api_requests"] == first_request

    # Salesforce may keep less than 15 days; its INVALID_REPLICATION_DATE means the same.
    sf_admin.config(replication_window_days=1)
    with pytest.raises(CrmReplicationWindowExceeded):
        backend.deleted_since(now - timedelta(days=2), now)


def test_deleted_since_a_window_shorter_than_a_minute_is_empty_without_a_request(sf_admin, backend):
    now = datetime(2026, 1, 5, 10, 11, 30, tzinfo=UTC)
    backend._now = lambda: now

    assert backend.deleted_since(now - timedelta(seconds=20), now) == []
    assert backend.api_calls == 0
