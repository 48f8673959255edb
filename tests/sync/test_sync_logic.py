"""The sync's mapping, configuration checks, lease and watermark, without the emulator (an in-memory CRM)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db.models import Max
from django.test import override_settings

from handoff.crm.base import CrmConfigError, CrmUnavailable
from handoff.models import Handoff, Lead, RepProfile, SyncRun, SyncState
from handoff.services.sync import SyncBusy, sync_run
from handoff.services.sync.config import SyncConfig
from handoff.services.sync.lease import LEASE, lease_acquire, lease_release, lease_renew
from handoff.services.sync.mapping import lead_values

from .memory_crm import QUEUE, T0, USERS, MemoryCrm, converted_on, lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def config() -> SyncConfig:
    return SyncConfig.from_settings()


# --- Mapping ----------------------------------------------------------------------------------
def test_a_record_maps_to_lead_fields_with_its_owner(config):
    values = lead_values(lead(1), config=config, owners={USERS[0]["Id"]: 7})
    assert values["crm_id"] == lead(1)["Id"]
    assert (values["first_name"], values["email"], values["score"]) == ("Grace", "grace1@example.com", 80.0)
    assert (values["owner_id"], values["crm_owner_id"]) == (7, USERS[0]["Id"])
    assert values["crm_modified_at"] == T0
    assert not values["is_deleted"]


def test_the_phone_and_the_mobile_phone_are_mapped_and_a_missing_mobile_is_empty(config):
    called = lead_values(lead(1, Phone="+1 212 555 0100", MobilePhone="+1 917 555 0199"), config=config, owners={})
    landline = lead_values(lead(2, Phone="+49 30 1234567", MobilePhone=None), config=config, owners={})
    assert (called["phone"], called["mobile_phone"]) == ("+1 212 555 0100", "+1 917 555 0199")
    assert (landline["phone"], landline["mobile_phone"]) == ("+49 30 1234567", "")


def test_a_queue_owner_or_an_unknown_user_leaves_the_lead_unowned_but_remembers_the_crm_owner(config):
    queued = lead_values(lead(1, OwnerId=QUEUE), config=config, owners={QUEUE: 7})
    unknown = lead_values(lead(2), config=config, owners={})
    assert (queued["owner_id"], queued["crm_owner_id"]) == (None, QUEUE)
    assert (unknown["owner_id"], unknown["crm_owner_id"]) == (None, USERS[0]["Id"])


def test_nulls_become_empty_text_overlong_text_is_cut_and_dates_become_midnight_utc(config):
    record = lead(1, FirstName=None, Lead_Score__c=None, Title="x" * 300, **converted_on(date(2026, 3, 1)))
    values = lead_values(record, config=config, owners={})
    assert (values["first_name"], values["score"]) == ("", None)
    assert values["title"] == "x" * Lead._meta.get_field("title").max_length
    assert values["is_converted"] is True
    assert values["converted_at"] == datetime(2026, 3, 1, tzinfo=UTC)
    json.dumps(values["raw"])  # the raw copy is plain JSON
    assert values["raw"]["SystemModstamp"] == "2026-03-02T09:00:00Z"


def test_the_field_map_must_name_lead_text_or_number_fields():
    with override_settings(CRM_FIELD_MAP={"favourite_colour": "Colour__c"}):
        with pytest.raises(CrmConfigError, match="CRM_FIELD_MAP.*favourite_colour"):
            SyncConfig.from_settings()


def test_status_meanings_must_be_known_and_every_crm_status_mapped(config):
    with override_settings(CRM_STATUS_MAP={"Open": "hot"}):
        with pytest.raises(CrmConfigError, match="CRM_STATUS_MAP.*hot"):
            SyncConfig.from_settings()
    with pytest.raises(CrmConfigError, match="CRM_STATUS_MAP has no meaning.*'Nurturing'"):
        config.check_statuses(["Open - Not Contacted", "Nurturing"])
    assert config.meaning("Closed - Converted") == "converted"


def test_a_write_back_status_the_crm_lacks_is_a_start_up_error():
    with override_settings(CRM_WRITEBACK_STATUS={"reject": "Disqualified"}):
        config = SyncConfig.from_settings()
    with pytest.raises(CrmConfigError, match="CRM_WRITEBACK_STATUS.*reject='Disqualified'"):
        config.check_statuses(["Open - Not Contacted"])


def test_a_mapped_field_missing_in_the_org_fails_the_run_at_start_and_writes_no_lead():
    crm = MemoryCrm([lead(1)], fields={"Id", "SystemModstamp"})
    with pytest.raises(CrmConfigError, match="FirstName"):
        sync_run(backend=crm)
    assert not Lead.objects.exists()
    run = SyncRun.objects.get()
    assert run.outcome == SyncRun.Outcome.FAILED
    assert "FirstName" in run.error


# --- The lease --------------------------------------------------------------------------------
def test_one_sync_at_a_time_and_a_crashed_holders_lease_expires():
    assert lease_acquire(name=LEASE, holder="a", seconds=60)
    assert not lease_acquire(name=LEASE, holder="b", seconds=60)
    with pytest.raises(SyncBusy):
        sync_run(backend=MemoryCrm([lead(1)]))
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=61)):
        assert lease_acquire(name=LEASE, holder="b", seconds=60)
        with pytest.raises(SyncBusy):
            lease_renew(name=LEASE, holder="a", seconds=60)
    lease_release(name=LEASE, holder="b")
    assert lease_acquire(name=LEASE, holder="c", seconds=60)


# --- Watermark and pages ----------------------------------------------------------------------
def _crm_with_same_second_rows() -> MemoryCrm:
    # Five rows, three of them sharing one second: a page boundary falls inside that second.
    stamps = [
        T0,
        T0 + timedelta(seconds=1),
        T0 + timedelta(seconds=1),
        T0 + timedelta(seconds=1),
        T0 + timedelta(seconds=2),
    ]
    return MemoryCrm([lead(n, at=at) for n, at in enumerate(stamps, start=1)])


@override_settings(CRM_PAGE_SIZE=2)
def test_the_watermark_moves_only_with_committed_pages_and_a_failed_run_resumes_without_loss():
    crm = _crm_with_same_second_rows()
    crm.fail_on_page = 2
    with pytest.raises(CrmUnavailable):
        sync_run(backend=crm)
    failed = SyncRun.objects.get()
    assert failed.outcome == SyncRun.Outcome.FAILED
    assert Lead.objects.count() == 2
    assert SyncState.objects.get().watermark == T0 + timedelta(seconds=1) == failed.watermark_after

    resumed = sync_run(backend=crm)
    assert crm.queries[-1] == T0 + timedelta(seconds=1)  # >= the watermark: the rest of that second comes again
    assert (resumed.created, resumed.updated) == (3, 0)
    assert sorted(Lead.objects.values_list("crm_id", flat=True)) == sorted(crm.leads)
    assert SyncState.objects.get().watermark == T0 + timedelta(seconds=2)


def test_a_run_with_nothing_changed_writes_nothing():
    crm = _crm_with_same_second_rows()
    sync_run(backend=crm)
    stamp = Lead.objects.aggregate(last=Max("updated_at"))["last"]
    again = sync_run(backend=crm)
    assert (again.outcome, again.created, again.updated, again.qualified) == (SyncRun.Outcome.SUCCEEDED, 0, 0, 0)
    assert Lead.objects.aggregate(last=Max("updated_at"))["last"] == stamp


def test_crm_users_become_sales_reps_and_an_inactive_one_an_inactive_profile():
    sync_run(backend=MemoryCrm([lead(1)]))
    ann, ben = (RepProfile.objects.get(crm_user_id=u["Id"]) for u in USERS)
    assert ann.is_active and not ben.is_active
    assert ann.user.groups.filter(name="sales_rep").exists()
    assert not ann.user.has_usable_password()
    assert Lead.objects.get().owner == ann.user


def test_a_crm_user_is_linked_to_the_app_user_with_the_same_email(cast):
    cast.rep.email = "ANN@example.com"
    cast.rep.save()
    cast.rep.profile.crm_user_id = None
    cast.rep.profile.save()
    sync_run(backend=MemoryCrm([lead(1)]))
    assert RepProfile.objects.get(crm_user_id=USERS[0]["Id"]).user == cast.rep
    assert Lead.objects.get().owner == cast.rep


def test_a_lead_that_meets_the_definition_is_qualified_once_by_the_rule():
    crm = MemoryCrm([lead(1), lead(2, Lead_Score__c=10.0)])
    run = sync_run(backend=crm)
    assert run.qualified == 1
    handoff = Handoff.objects.get()
    assert (handoff.lead.crm_id, handoff.qualified_by_kind) == (lead(1)["Id"], "rule")
    crm.leads[lead(1)["Id"]]["SystemModstamp"] = T0 + timedelta(minutes=1)
    crm.leads[lead(1)["Id"]]["Title"] = "Commodore"
    assert sync_run(backend=crm).qualified == 0
    assert Handoff.objects.count() == 1


def test_the_first_import_mirrors_history_but_hands_sales_only_recent_leads(settings):
    settings.CRM_IMPORT_QUALIFY_DAYS = 14
    with time_machine.travel(T0 + timedelta(days=30)):
        recent = lead(1, at=T0 + timedelta(days=25))
        old = lead(2)
        crm = MemoryCrm([recent, old])
        run = sync_run(backend=crm)
        assert (run.created, run.qualified) == (2, 1)
        assert Handoff.objects.get().lead.crm_id == recent["Id"]
        # Once imported, an old lead that changes is a new MQL like any other.
        crm.leads[old["Id"]]["SystemModstamp"] = T0 + timedelta(days=29)
        crm.leads[old["Id"]]["Lead_Score__c"] = 95.0
        assert sync_run(backend=crm).qualified == 1


def test_the_bulk_import_sets_the_watermark_only_after_every_page():
    crm = MemoryCrm([lead(n, at=T0 + timedelta(seconds=n)) for n in range(1, 6)])
    with override_settings(CRM_BULK_THRESHOLD=3):
        run = sync_run(backend=crm)
    assert run.used_bulk
    assert SyncState.objects.get().watermark == T0 + timedelta(seconds=5)
    assert Lead.objects.count() == 5


# --- The bulk import reads ahead; statuses move clocks ---------------------------------------
class PagedBulkCrm(MemoryCrm):
    """Bulk pages of two rows; `fail_at_page=n` makes the n-th page raise after the earlier ones were read."""

    fail_at_page: int | None = None

    def iter_all_bulk(self, fields, include_deleted):
        rows = [dict(r, IsDeleted=False) for r in self.leads.values()]
        for number, start in enumerate(range(0, len(rows), 2), start=1):
            if self.fail_at_page == number:
                self.fail_at_page = None
                raise CrmUnavailable("Bulk 2.0 results page answered 503 three times")
            yield rows[start : start + 2]


@override_settings(CRM_BULK_THRESHOLD=3)
def test_a_bulk_import_failing_on_a_later_page_keeps_the_earlier_pages_and_the_rerun_completes():
    import threading

    crm = PagedBulkCrm([lead(n, at=T0 + timedelta(seconds=n)) for n in range(1, 8)])
    crm.fail_at_page = 3
    with pytest.raises(CrmUnavailable):
        sync_run(backend=crm)
    assert Lead.objects.count() == 4  # pages 1 and 2, read ahead or not, are written; page 3 never came
    assert SyncState.objects.get().watermark is None  # bulk pages are unordered: no watermark until all are in
    assert not [t for t in threading.enumerate() if t.name == "crm-prefetch"]  # the reader ended with the run

    run = sync_run(backend=crm)
    assert (run.outcome, run.created) == (SyncRun.Outcome.SUCCEEDED, 3)
    assert sorted(Lead.objects.values_list("crm_id", flat=True)) == sorted(crm.leads)
    assert SyncState.objects.get().watermark == T0 + timedelta(seconds=7)


def test_a_crm_working_status_synced_meets_first_touch_and_other_changes_leave_clocks_alone():
    from handoff.models import Milestone, MilestoneKind

    crm = MemoryCrm([lead(1), lead(2)])
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        assert sync_run(backend=crm).qualified == 2
    first, second = (lead(n)["Id"] for n in (1, 2))
    crm.leads[first].update(Status="Working - Contacted", SystemModstamp=T0 + timedelta(minutes=5))
    crm.leads[second].update(Title="Commodore", SystemModstamp=T0 + timedelta(minutes=5))
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        sync_run(backend=crm)
    touched = dict(
        Milestone.objects.filter(kind=MilestoneKind.FIRST_TOUCH).values_list("handoff__lead__crm_id", "met_at")
    )
    assert touched == {first: T0 + timedelta(minutes=5), second: None}
