"""The embedded demo CRM: deterministic, alive as time passes, and remembering what the app wrote back."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from handoff.crm import CrmConfigError, CrmError, CrmReplicationWindowExceeded
from handoff.crm.config import DemoConfig
from handoff.crm.demo import QUEUE_ID, STATUSES, USERS, DemoBackend

# A Wednesday at noon UTC, inside the demo's working hours.
NOON = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
FIELDS = ["Id", "FirstName", "LastName", "Email", "Company", "Country", "Industry", "LeadSource", "Status",
          "OwnerId", "Lead_Score__c", "IsConverted", "ConvertedDate", "CreatedDate", "SystemModstamp", "MQL_Date__c"]


class Clock:
    """A settable `now` for the demo backends of one test."""

    def __init__(self, moment: datetime):
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


@pytest.fixture
def clock() -> Clock:
    return Clock(NOON)


@pytest.fixture
def make_demo(tmp_path, clock):
    def make(state: str = "demo_crm.json", **config) -> DemoBackend:
        return DemoBackend(DemoConfig(state_path=tmp_path / state, **config), now=clock)

    return make


@pytest.fixture
def demo(make_demo) -> DemoBackend:
    return make_demo()


def everything(backend: DemoBackend) -> dict[str, dict]:
    return {row["Id"]: row for page in backend.iter_all_bulk(FIELDS + ["IsDeleted"], True) for row in page}


def test_two_instances_on_two_state_files_tell_the_same_story(make_demo):
    first, second = make_demo("a.json"), make_demo("b.json")

    assert list(first.iter_changed(None, FIELDS, 1000)) == list(second.iter_changed(None, FIELDS, 1000))
    assert first.users() == second.users()


def test_a_fresh_install_has_weeks_of_history_and_a_bounded_number_of_leads(demo):
    leads = everything(demo)

    assert 4000 < len(leads) <= 5000
    assert min(lead["CreatedDate"] for lead in leads.values()) < NOON - timedelta(weeks=7)
    assert {lead["Status"] for lead in leads.values()} == set(STATUSES)
    assert {lead["LeadSource"] for lead in leads.values()} >= {"Web", "Demo Request", "Webinar", "Trade Show",
                                                             "Partner Referral", "Purchased List",
                                                             "Content Download"}
    assert all(0 <= lead["Lead_Score__c"] <= 100 for lead in leads.values())
    owners = {user["Id"] for user in demo.users()} | {QUEUE_ID}
    assert {lead["OwnerId"] for lead in leads.values()} <= owners
    assert any(lead["IsDeleted"] for lead in leads.values())
    assert demo.count_leads() == sum(not lead["IsDeleted"] for lead in leads.values())


def test_pages_are_ordered_by_stamp_then_id_and_sized(demo):
    pages = list(demo.iter_changed(None, ["Id"], 700))

    assert all(len(page) <= 700 for page in pages[:-1]) and all(len(page) == 700 for page in pages[:-1])
    order = [(row["SystemModstamp"], row["Id"]) for page in pages for row in page]
    assert order == sorted(order) and len(set(order)) == len(order)


def test_records_are_typed_like_salesforce_records(demo):
    lead = next(row for page in demo.iter_changed(None, FIELDS, 5000) for row in page if row["IsConverted"])

    assert isinstance(lead["SystemModstamp"], datetime) and lead["SystemModstamp"].tzinfo == UTC
    assert lead["SystemModstamp"].microsecond == 0
    assert isinstance(lead["ConvertedDate"], date) and isinstance(lead["Lead_Score__c"], float)
    assert len(lead["Id"]) == 18 and lead["Id"].startswith("00Q")


def test_demo_leads_have_a_phone_and_some_a_mobile_phone_too(demo):
    leads = [row for page in demo.iter_changed(None, [*FIELDS, "Phone", "MobilePhone"], 5000) for row in page]

    assert all(row["Phone"].startswith("+") for row in leads)
    mobiles = [row["MobilePhone"] for row in leads if row["MobilePhone"]]
    assert 0.2 < len(mobiles) / len(leads) < 0.6
    assert all(mobile.startswith("+") for mobile in mobiles)


def test_time_passing_brings_new_leads_and_changes_that_iter_changed_reports(demo, clock):
    before = everything(demo)
    clock.moment = NOON + timedelta(days=1)
    after = everything(demo)

    changed = {row["Id"] for page in demo.iter_changed(NOON, FIELDS, 500) for row in page}
    deleted = {crm_id for crm_id, _ in demo.deleted_since(NOON, clock.moment)}

    new = set(after) - set(before)
    modified = {crm_id for crm_id in before if before[crm_id] != after[crm_id]}
    assert len(new) > 50 and len(modified) > 50
    # What the sync needs: every difference is reported, by iter_changed or as a deletion.
    assert new | modified == changed | deleted
    assert all(after[crm_id]["SystemModstamp"] >= NOON for crm_id in changed | deleted)


def test_iter_changed_with_deleted_rows_brings_deletions_with_their_time_in_order(demo, clock):
    clock.moment = NOON + timedelta(days=1)
    since = NOON - timedelta(days=3)

    pages = list(demo.iter_changed(since, FIELDS, 500, include_deleted=True))

    rows = [row for page in pages for row in page]
    order = [(row["SystemModstamp"], row["Id"]) for row in rows]
    assert order == sorted(order) and len(set(order)) == len(order)
    deleted = {row["Id"]: row["SystemModstamp"] for row in rows if row["IsDeleted"]}
    # The same deletions, at the same times, as getDeleted reports (the delete moved the SystemModstamp).
    assert deleted and deleted == dict(demo.deleted_since(since, clock.moment))
    live = {row["Id"] for page in demo.iter_changed(since, FIELDS, 500) for row in page}
    assert live == {row["Id"] for row in rows if not row["IsDeleted"]}


def test_the_epoch_is_kept_so_restarts_do_not_move_history(make_demo, clock, tmp_path):
    first = everything(make_demo())
    clock.moment = NOON + timedelta(weeks=3)

    later = make_demo()

    assert later.fetch_by_ids(list(first)[:5], ["Id", "CreatedDate"]) == [
        {"Id": crm_id, "CreatedDate": first[crm_id]["CreatedDate"]} for crm_id in list(first)[:5]
    ]
    assert json.loads((tmp_path / "demo_crm.json").read_text())["epoch"] == "2026-01-12T00:00:00+00:00"


def test_write_back_is_persisted_and_seen_by_another_process(make_demo, clock, tmp_path):
    writer, reader = make_demo(), make_demo()
    target = next(row for page in writer.iter_changed(None, FIELDS, 5000) for row in page
                  if row["Status"] == "Open - Not Contacted")
    clock.moment = NOON + timedelta(minutes=5)

    [result] = writer.update_leads([(target["Id"], {"Status": "Closed - Not Converted", "Lead_Score__c": 12})])

    assert result.ok
    [seen] = reader.fetch_by_ids([target["Id"]], ["Id", "Status", "Lead_Score__c", "SystemModstamp"])
    assert seen == {"Id": target["Id"], "Status": "Closed - Not Converted", "Lead_Score__c": 12.0,
                    "SystemModstamp": clock.moment}
    assert target["Id"] in {row["Id"] for page in reader.iter_changed(clock.moment, ["Id"], 100) for row in page}
    # The simulated reps leave a field the app set alone, weeks later too.
    clock.moment = NOON + timedelta(weeks=4)
    assert reader.fetch_by_ids([target["Id"]], ["Status"]) == [{"Id": target["Id"], "Status": "Closed - Not Converted"}]
    assert list(tmp_path.glob("*.tmp")) == []


def test_write_back_refuses_what_salesforce_refuses(demo):
    leads = everything(demo)
    converted = next(i for i, lead in leads.items() if lead["IsConverted"])
    deleted = next(i for i, lead in leads.items() if lead["IsDeleted"])
    open_lead = next(i for i, lead in leads.items() if not lead["IsConverted"] and not lead["IsDeleted"])

    results = demo.update_leads([
        (converted, {"Status": "Working - Contacted"}),
        (deleted, {"Status": "Working - Contacted"}),
        ("00QDM0000000zzz", {"Status": "Working - Contacted"}),
        (open_lead, {"Status": "Hot to trot"}),
        (open_lead, {"IsConverted": True}),
        (open_lead, {"OwnerId": "005000000000000AAA"}),
        (open_lead, {"Lead_Score__c": "high"}),
        (open_lead, {"OwnerId": USERS[0]["Id"], "Rating": "Hot"}),
    ])

    assert [(r.ok, r.skipped, r.error_code) for r in results] == [
        (False, True, "CANNOT_UPDATE_CONVERTED_LEAD"),
        (False, True, "ENTITY_IS_DELETED"),
        (False, True, "NOT_FOUND"),
        (False, False, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
        (False, False, "INVALID_FIELD_FOR_INSERT_UPDATE"),
        (False, False, "FIELD_INTEGRITY_EXCEPTION"),
        (False, False, "JSON_PARSER_ERROR"),
        (True, False, None),
    ]


def test_deletions_are_listed_within_the_replication_window(demo):
    deleted = {i: lead["SystemModstamp"] for i, lead in everything(demo).items() if lead["IsDeleted"]}
    start = NOON - timedelta(days=14)

    found = dict(demo.deleted_since(start, NOON))

    assert found == {i: when for i, when in deleted.items() if when >= start}
    with pytest.raises(CrmReplicationWindowExceeded):
        demo.deleted_since(NOON - timedelta(days=16), NOON)


def test_check_and_unknown_fields(demo):
    demo.check(FIELDS)
    with pytest.raises(CrmConfigError, match="Budget__c"):
        demo.check(["Id", "Budget__c"])
    with pytest.raises(CrmError):
        list(demo.iter_changed(None, ["Budget__c"], 100))


def test_users_are_the_seeded_reps_and_one_former_rep(demo):
    from handoff.demo.cast import LOGINS

    users = demo.users()

    assert sum(user["IsActive"] for user in users) == 4 and len(users) == 5
    seeded_reps = {u.first_name for u in LOGINS if u.role == "sales_rep"}
    # The same CRM user ids the seeded reps have, so the leads the CRM hands them land with their logins.
    assert {u["Id"] for u in users if u["IsActive"]} == {u.crm_user_id for u in LOGINS if u.role == "sales_rep"}
    assert {user["FirstName"] for user in users if user["IsActive"]} == seeded_reps
    assert all(len(user["Id"]) == 18 and user["Id"].startswith("005") for user in users)
    assert QUEUE_ID.startswith("00G") and len(QUEUE_ID) == 18
    assert demo.lead_statuses() == STATUSES
    assert demo.api_usage() is None


def test_a_write_from_another_process_is_visible_here(demo, tmp_path, clock):
    target = next(row for page in demo.iter_changed(None, ["Id", "Status", "IsConverted"], 5000) for row in page
                  if not row["IsConverted"])
    script = (
        "from datetime import datetime; from pathlib import Path\n"
        "from handoff.crm.config import DemoConfig; from handoff.crm.demo import DemoBackend\n"
        f"backend = DemoBackend(DemoConfig(Path({str(tmp_path / 'demo_crm.json')!r})),"
        f" now=lambda: datetime.fromisoformat({clock.moment.isoformat()!r}))\n"
        f"assert backend.update_leads([({target['Id']!r}, {{'Rating': 'Hot', 'Title': 'Buyer'}})])[0].ok\n"
    )

    subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2], check=True, timeout=60)

    assert demo.fetch_by_ids([target["Id"]], ["Rating", "Title"]) == [
        {"Id": target["Id"], "Rating": "Hot", "Title": "Buyer"}
    ]


def test_no_leads_arrive_at_the_weekend(demo, clock):
    clock.moment = datetime(2026, 3, 7, 10, 0, tzinfo=UTC)  # a Saturday
    saturday_morning = demo.count_leads()
    clock.moment = datetime(2026, 3, 7, 18, 0, tzinfo=UTC)

    assert demo.count_leads() == saturday_morning
    assert list(demo.iter_changed(datetime(2026, 3, 7, 10, 0, tzinfo=UTC), ["Id"], 100)) == []


def test_a_corrupt_state_file_names_the_setting(demo, tmp_path):
    (tmp_path / "demo_crm.json").write_text("{not json")

    with pytest.raises(CrmConfigError, match="DEMO_CRM_STATE"):
        demo.count_leads()


def test_the_demo_crm_reads_the_demo_package_without_loading_the_orm():
    script = (
        "import sys\n"
        "import handoff.crm.demo, handoff.demo.stories\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('handoff.models', 'handoff.services', 'django.db')))\n"
        "assert not loaded, loaded\n"
    )

    subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2], check=True, timeout=60)
