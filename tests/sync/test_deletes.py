"""Deletes in the incremental pull, without the emulator: queryAll rows in the recycle bin, getDeleted for purged ones.

getDeleted covers whole minutes only (MemoryCrm.deleted_since models that), so a lead deleted within the minute
of a pull reaches the mirror only through the pull's queryAll rows (IsDeleted, SystemModstamp moved by the delete).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import override_settings

from handoff.crm.base import CrmUnavailable
from handoff.models import Handoff, HandoffState, Lead, SyncRun, SyncState
from handoff.models.handoffs import OPEN_STATES
from handoff.services.sync import sync_run

from .memory_crm import T0, MemoryCrm, lead

pytestmark = pytest.mark.django_db

# A pull "at once": the clock stands still a few seconds into a minute, so getDeleted reports nothing from it.
NOW = T0 + timedelta(days=1, seconds=5)


def _imported(*numbers: int) -> MemoryCrm:
    """A CRM with the given leads, imported at NOW - 1 minute; every lead is handed over by the rule."""
    crm = MemoryCrm([lead(n, at=T0 + timedelta(seconds=n)) for n in numbers])
    with time_machine.travel(NOW - timedelta(minutes=1), tick=False):
        run = sync_run(backend=crm)
    assert (run.outcome, run.created, run.qualified) == (SyncRun.Outcome.SUCCEEDED, len(numbers), len(numbers))
    return crm


def _pull(crm: MemoryCrm, at=NOW) -> SyncRun:
    with time_machine.travel(at, tick=False):
        run = sync_run(backend=crm)
    assert run.outcome == SyncRun.Outcome.SUCCEEDED
    return run


def _handoff(number: int) -> Handoff:
    return Handoff.objects.get(lead__crm_id=lead(number)["Id"])


def _closing(number: int) -> tuple:
    event = _handoff(number).events.last()
    return event.action, event.from_state, event.to_state, event.actor_kind, event.note


def test_a_lead_deleted_then_pulled_at_once_is_deleted_here_with_its_handoff_closed_as_getdeleted_closes_it():
    crm = _imported(1, 2, 3)
    crm.leads[lead(2)["Id"]].update(Title="Commodore", SystemModstamp=NOW)
    crm.delete(lead(1)["Id"], NOW)
    assert crm.deleted_since(NOW - timedelta(minutes=3), NOW) == []  # getDeleted has nothing yet

    run = _pull(crm)

    assert (run.kind, run.updated, run.deleted, run.closed) == (SyncRun.Kind.INCREMENTAL, 1, 1, 1)
    assert Lead.objects.get(crm_id=lead(1)["Id"]).is_deleted
    assert Lead.objects.get(crm_id=lead(2)["Id"]).title == "Commodore"
    assert _handoff(1).state == HandoffState.CLOSED
    assert _handoff(2).state in OPEN_STATES and _handoff(3).state in OPEN_STATES
    assert SyncState.objects.get().watermark == NOW  # past the deleted row, which is applied

    # The same deletion through getDeleted (lead 3, purged from the bin, so queryAll cannot see it) closes alike.
    crm.delete(lead(3)["Id"], NOW)
    crm.purge(lead(3)["Id"])
    assert _pull(crm).deleted == 0  # within the minute: only getDeleted knows, and it does not know yet
    assert not Lead.objects.get(crm_id=lead(3)["Id"]).is_deleted
    later = _pull(crm, NOW + timedelta(minutes=2))
    assert later.deleted == 1  # lead 3 only: lead 1, reported again by getDeleted, was already deleted
    assert _handoff(3).state == HandoffState.CLOSED
    assert _closing(1) == _closing(3)
    assert _closing(1)[3:] == ("sync", "Deleted in the CRM.")


def test_pulling_the_deleted_row_again_writes_nothing():
    crm = _imported(1, 2)
    crm.delete(lead(1)["Id"], NOW)
    _pull(crm)
    stamp = Lead.objects.get(crm_id=lead(1)["Id"]).updated_at

    again = _pull(crm)  # the watermark is the deleted row's second: `>=` reads it again

    assert crm.queries[-1] == NOW
    assert (again.created, again.updated, again.deleted, again.closed) == (0, 0, 0, 0)
    assert Lead.objects.get(crm_id=lead(1)["Id"]).updated_at == stamp


def test_a_lead_deleted_then_undeleted_comes_back_live_and_a_late_getdeleted_leaves_it_so():
    crm = _imported(1, 2)
    crm.delete(lead(1)["Id"], NOW)
    _pull(crm)
    assert Lead.objects.get(crm_id=lead(1)["Id"]).is_deleted

    crm.undelete(lead(1)["Id"], NOW + timedelta(seconds=3))
    back = _pull(crm, NOW + timedelta(seconds=4))
    assert (back.updated, back.deleted) == (1, 0)
    restored = Lead.objects.get(crm_id=lead(1)["Id"])
    assert not restored.is_deleted and restored.crm_modified_at == NOW + timedelta(seconds=3)

    # getDeleted reports the deletion once its minute has passed; the lead changed after it, so it stays.
    assert _pull(crm, NOW + timedelta(minutes=2)).deleted == 0
    assert not Lead.objects.get(crm_id=lead(1)["Id"]).is_deleted
    assert Lead.objects.filter(crm_id=lead(1)["Id"]).count() == 1


def test_a_lead_created_and_deleted_between_two_pulls_is_not_mirrored():
    crm = _imported(1)
    crm.leads[lead(5)["Id"]] = lead(5, at=NOW - timedelta(seconds=3))
    crm.delete(lead(5)["Id"], NOW)

    run = _pull(crm)

    assert (run.created, run.deleted) == (0, 0)
    assert not Lead.objects.filter(crm_id=lead(5)["Id"]).exists()
    assert SyncState.objects.get().watermark == NOW


@override_settings(CRM_PAGE_SIZE=2)
def test_the_watermark_never_passes_a_deletion_not_yet_applied():
    crm = _imported(1, 2, 3, 4)
    for number in (1, 2, 3):
        crm.leads[lead(number)["Id"]].update(Title=f"Changed {number}", SystemModstamp=NOW + timedelta(seconds=number))
    crm.delete(lead(4)["Id"], NOW + timedelta(seconds=4))  # on the second page, after lead 3
    crm.fail_on_page = 2

    with time_machine.travel(NOW + timedelta(seconds=10), tick=False), pytest.raises(CrmUnavailable):
        sync_run(backend=crm)
    assert SyncState.objects.get().watermark == NOW + timedelta(seconds=2)
    assert not Lead.objects.get(crm_id=lead(4)["Id"]).is_deleted

    resumed = _pull(crm, NOW + timedelta(seconds=11))
    assert crm.queries[-1] == NOW + timedelta(seconds=2)
    assert (resumed.updated, resumed.deleted) == (1, 1)
    assert Lead.objects.get(crm_id=lead(4)["Id"]).is_deleted
    assert SyncState.objects.get().watermark == NOW + timedelta(seconds=4)
    assert Lead.objects.count() == 4


def test_the_deletions_of_a_page_commit_with_its_upserts_and_watermark_or_not_at_all(monkeypatch):
    crm = _imported(1, 2)
    crm.leads[lead(2)["Id"]].update(Title="Commodore", SystemModstamp=NOW)
    crm.delete(lead(1)["Id"], NOW)
    before = SyncState.objects.get().watermark

    def broken(**kwargs):
        raise RuntimeError("closing failed")

    monkeypatch.setattr("handoff.services.sync.pages.handoffs_close", broken)
    with time_machine.travel(NOW, tick=False), pytest.raises(RuntimeError):
        sync_run(backend=crm)

    assert SyncState.objects.get().watermark == before
    assert Lead.objects.get(crm_id=lead(2)["Id"]).title == "Rear Admiral"  # the page's upsert rolled back too
    assert not Lead.objects.get(crm_id=lead(1)["Id"]).is_deleted
    monkeypatch.undo()
    run = _pull(crm)
    assert (run.updated, run.deleted, run.closed) == (1, 1, 1)
