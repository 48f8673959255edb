"""Writing lead changes back through sObject Collections, as the emulator's write log records them."""
from __future__ import annotations

from datetime import date

import pytest

from handoff.crm import MAX_COLLECTION, CrmUnavailable

pytestmark = pytest.mark.emulator


def composite_calls(sf_admin) -> list[dict]:
    return [r for r in sf_admin.requests() if r["path"].endswith("composite/sobjects")]


def live_open_leads(sf_admin, count: int) -> list[str]:
    leads = sf_admin.call("GET", "leads", ids=",".join(sf_admin.lead_ids()[: count * 2]))["records"]
    return [lead["Id"] for lead in leads if not lead["IsDeleted"] and not lead["IsConverted"]][:count]


def test_updates_go_in_collections_of_200_and_converted_or_deleted_leads_are_skipped(sf_admin, backend):
    sf_admin.reset(count=1000)
    ids = live_open_leads(sf_admin, 450)
    converted, deleted, bad_status = ids[10], ids[250], ids[420]
    sf_admin.convert_lead(converted)
    sf_admin.delete_lead(deleted)
    changes = [(crm_id, {"Status": "Working - Contacted", "Lead_Score__c": 77.0}) for crm_id in ids]
    changes[420] = (bad_status, {"Status": "Hot to trot"})

    results = backend.update_leads(changes)

    assert [r.crm_id for r in results] == ids
    by_id = {r.crm_id: r for r in results}
    assert (by_id[converted].ok, by_id[converted].skipped, by_id[converted].error_code) == (
        False, True, "CANNOT_UPDATE_CONVERTED_LEAD")
    assert (by_id[deleted].ok, by_id[deleted].skipped, by_id[deleted].error_code) == (
        False, True, "ENTITY_IS_DELETED")
    assert (by_id[bad_status].ok, by_id[bad_status].skipped) == (False, False)
    assert by_id[bad_status].error_code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert sum(r.ok for r in results) == 447

    assert len(composite_calls(sf_admin)) == 3
    writes = sf_admin.writes()
    assert {w["api"] for w in writes} == {"composite"} and len(writes) == 450
    assert sf_admin.lead(ids[0])["Status"] == "Working - Contacted"
    assert sf_admin.lead(ids[0])["Lead_Score__c"] == 77.0


def test_no_collection_exceeds_the_limit(sf_admin, backend):
    sf_admin.reset(count=500)
    ids = live_open_leads(sf_admin, 401)

    backend.update_leads([(crm_id, {"Rating": "Hot"}) for crm_id in ids])

    writes = sf_admin.writes()
    assert len(writes) == 401
    assert len(composite_calls(sf_admin)) == -(-401 // MAX_COLLECTION)


def test_typed_values_are_written_in_api_form_and_15_character_ids_accepted(sf_admin, backend):
    [lead] = sf_admin.insert_leads([{"LastName": "Ito"}])

    [result] = backend.update_leads([(lead["Id"][:15], {"MQL_Date__c": date(2026, 2, 3), "Lead_Score__c": 61})])

    assert result.ok and result.crm_id == lead["Id"]
    assert sf_admin.lead(lead["Id"])["MQL_Date__c"] == "2026-02-03"
    [write] = sf_admin.writes()
    assert write["body"]["MQL_Date__c"] == "2026-02-03"


def test_an_unknown_lead_is_skipped(sf_admin, backend):
    [result] = backend.update_leads([("00Q8d00000ZZZZZ", {"Rating": "Hot"})])

    assert (result.ok, result.skipped, result.error_code) == (False, True, "NOT_FOUND")


def test_a_write_whose_answer_was_cut_is_sent_again_and_lands_once(sf_admin, backend):
    [lead] = sf_admin.insert_leads([{"LastName": "Okafor"}])
    sf_admin.fault(action="truncate", path="composite")

    [result] = backend.update_leads([(lead["Id"], {"Rating": "Warm"})])

    assert result.ok
    assert sf_admin.lead(lead["Id"])["Rating"] == "Warm"
    assert len(composite_calls(sf_admin)) == 2  # the update is idempotent, so resending it is safe


def test_writes_that_keep_failing_raise_so_the_batch_is_resent_later(sf_admin, backend):
    [lead] = sf_admin.insert_leads([{"LastName": "Silva"}])
    sf_admin.fault(action="error", status=503, times=0, path="composite")

    with pytest.raises(CrmUnavailable):
        backend.update_leads([(lead["Id"], {"Rating": "Warm"})])


def test_nothing_to_write_makes_no_request(backend):
    assert backend.update_leads([]) == []
    assert backend.api_calls == 0


def test_malformed_ids_are_skipped_without_a_request_and_results_keep_their_order(sf_admin, backend):
    [lead] = sf_admin.insert_leads([{"LastName": "Park"}])

    results = backend.update_leads([("not-an-id", {"Rating": "Hot"}), (lead["Id"], {"Rating": "Hot"})])

    assert [(r.crm_id, r.ok, r.skipped, r.error_code) for r in results] == [
        ("not-an-id", False, True, "MALFORMED_ID"),
        (lead["Id"], True, False, None),
    ]
    assert [w["id"] for w in sf_admin.writes()] == [lead["Id"]]
    assert backend.fetch_by_ids(["not-an-id", "00Q'); DELETE"], ["Id"]) == []
