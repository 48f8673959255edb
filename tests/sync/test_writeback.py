"""Write-back: app actions reach the CRM after commit, batched; converted or deleted leads are skipped."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import override_settings
from django.utils import timezone

from handoff.crm.base import WriteResult
from handoff.models import Handoff, HandoffState, Lead, SyncRun, WriteBack
from handoff.services.actors import Actor
from handoff.services.handoffs import handoff_accept, handoff_reject, handoffs_convert
from handoff.services.sync import sync_run
from handoff.services.writeback import FLUSH_TASK, writeback_flush
from handoff.tasks.sync import writeback_flush_task

from .memory_crm import USERS, MemoryCrm, lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced():
    """Two qualified leads owned by the CRM user Ann, mirrored from an in-memory CRM."""
    crm = MemoryCrm([lead(1), lead(2)])
    sync_run(backend=crm)
    ann = User.objects.get(profile__crm_user_id=USERS[0]["Id"])
    return crm, ann, list(Handoff.objects.order_by("lead__crm_id"))


def test_an_accept_records_the_status_to_write_and_queues_the_flush_after_commit(
    synced, django_capture_on_commit_callbacks
):
    crm, ann, (first, _) = synced
    with django_capture_on_commit_callbacks() as queued:
        handoff_accept(handoff=first, actor=Actor.person(ann))
    row = WriteBack.objects.get()
    assert (row.action, row.changes, row.status) == ("accept", {"Status": "Working - Contacted"}, "pending")
    assert row.event.action == "accept"
    assert len(queued) == 1
    assert crm.writes == []  # nothing leaves before the flush


def test_history_replayed_by_an_actor_owes_the_crm_nothing(synced, django_capture_on_commit_callbacks):
    crm, ann, (first, second) = synced
    with django_capture_on_commit_callbacks() as queued:
        handoff_accept(handoff=first, actor=Actor.person(ann).replaying())
        handoff_reject(handoff=second, actor=Actor.person(ann).replaying(), reason="duplicate")
    assert Handoff.objects.get(pk=first.pk).state == HandoffState.ACCEPTED
    assert not WriteBack.objects.exists()
    assert FLUSH_TASK not in [getattr(callback, "task_name", None) for callback in queued]


def test_many_actions_in_one_transaction_queue_one_flush(synced, django_capture_on_commit_callbacks):
    from django.db import transaction

    crm, ann, (first, second) = synced
    with django_capture_on_commit_callbacks() as queued, transaction.atomic():
        handoff_accept(handoff=first, actor=Actor.person(ann))
        handoff_accept(handoff=second, actor=Actor.person(ann))
    assert WriteBack.objects.count() == 2
    assert len(queued) == 1


def test_an_action_rolled_back_queues_no_flush_and_the_next_transaction_queues_its_own(
    synced, django_capture_on_commit_callbacks
):
    from django.db import transaction

    crm, ann, (first, second) = synced
    with pytest.raises(RuntimeError), transaction.atomic():
        handoff_accept(handoff=first, actor=Actor.person(ann))
        raise RuntimeError("rolled back")
    assert not WriteBack.objects.exists()
    with django_capture_on_commit_callbacks() as queued:
        handoff_accept(handoff=second, actor=Actor.person(ann))
    assert len(queued) == 1


def test_the_flush_queued_after_commit_is_the_write_back_task(synced, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr("handoff.services.jobs._send", sent.append)
    crm, ann, (first, _) = synced
    with django_capture_on_commit_callbacks(execute=True):
        handoff_accept(handoff=first, actor=Actor.person(ann))
    assert sent == [writeback_flush_task.name]


def test_the_reason_goes_into_the_reason_field_when_the_org_has_it(synced):
    crm, ann, (first, second) = synced
    handoff_reject(handoff=first, actor=Actor.person(ann), reason="wrong_persona")
    crm.fields = None  # the org has every field
    writeback_flush(backend=crm)
    ((crm_id, changes),) = crm.writes
    assert crm_id == first.lead.crm_id
    assert changes["Status"] == "Closed - Not Converted"
    assert changes["Handoff_Reason__c"] == first.__class__.objects.get(pk=first.pk).reason.label


def test_the_reason_is_left_out_when_the_org_lacks_the_field(synced):
    crm, ann, (first, _) = synced
    handoff_reject(handoff=first, actor=Actor.person(ann), reason="wrong_persona")
    crm.fields = {"Status"}
    writeback_flush(backend=crm)
    assert crm.writes == [(first.lead.crm_id, {"Status": "Closed - Not Converted"})]
    assert WriteBack.objects.get().status == WriteBack.Status.SENT


def test_changes_from_the_crm_itself_are_not_written_back(synced):
    _, _, (first, _) = synced
    handoffs_convert(handoffs=[first], actor=Actor.sync())
    assert not WriteBack.objects.exists()


def test_several_changes_of_one_lead_are_sent_once_with_the_newest_values(synced):
    crm, ann, (first, _) = synced
    handoff_accept(handoff=first, actor=Actor.person(ann))
    with override_settings(CRM_WRITEBACK_STATUS={"accept": "Working - Contacted", "convert": "Closed - Converted"}):
        handoffs_convert(handoffs=[first], actor=Actor.person(ann))
    result = writeback_flush(backend=crm)
    assert crm.writes == [(first.lead.crm_id, {"Status": "Closed - Converted"})]
    assert (result.sent, result.superseded) == (1, 1)


def test_a_converted_lead_is_skipped_for_good_and_other_failures_retry_with_backoff_then_fail(synced):
    crm, ann, (first, second) = synced
    handoff_accept(handoff=first, actor=Actor.person(ann))
    handoff_accept(handoff=second, actor=Actor.person(ann))
    crm.write_outcomes = {
        first.lead.crm_id: WriteResult.failed(first.lead.crm_id, "CANNOT_UPDATE_CONVERTED_LEAD", "converted"),
        second.lead.crm_id: WriteResult.failed(second.lead.crm_id, "UNABLE_TO_LOCK_ROW", "locked"),
    }
    result = writeback_flush(backend=crm)
    assert (result.skipped, result.retrying) == (1, 1)
    skipped = WriteBack.objects.get(lead=first.lead)
    retried = WriteBack.objects.get(lead=second.lead)
    assert (skipped.status, skipped.error_code) == (WriteBack.Status.SKIPPED, "CANNOT_UPDATE_CONVERTED_LEAD")
    assert (retried.status, retried.attempts, retried.error_code) == (WriteBack.Status.PENDING, 1, "UNABLE_TO_LOCK_ROW")
    assert retried.next_attempt_at > timezone.now()

    assert writeback_flush(backend=crm).sent == 0  # not due yet
    with override_settings(CRM_WRITEBACK_MAX_ATTEMPTS=2):
        writeback_flush(backend=crm, now=timezone.now() + timedelta(days=1))
    retried.refresh_from_db()
    assert (retried.status, retried.attempts) == (WriteBack.Status.FAILED, 2)
    assert len(crm.writes) == 3  # the skipped lead was never sent again


# --- Against the emulator ---------------------------------------------------------------------
@pytest.mark.emulator
def test_app_actions_reach_salesforce_through_sobject_collections(org, sync, crm, django_capture_on_commit_callbacks):
    org.reset(count=200)
    sync()
    handoffs = list(
        Handoff.objects.filter(state=HandoffState.QUALIFIED, owner__isnull=False).select_related("lead", "owner")[:3]
    )
    converted_in_crm = handoffs[2]
    org.convert_lead(converted_in_crm.lead.crm_id)
    for handoff in handoffs[:2]:
        handoff_accept(handoff=handoff, actor=Actor.person(handoff.owner))
    handoff_reject(handoff=handoffs[2], actor=Actor.person(handoffs[2].owner), reason="no_budget")
    org.call("DELETE", "writes")
    result = writeback_flush(backend=crm)
    assert (result.sent, result.skipped) == (2, 1)
    writes = org.writes()
    assert {w["api"] for w in writes} == {"composite"}
    sent = {w["id"]: w["body"] for w in writes}
    assert set(sent) == {h.lead.crm_id for h in handoffs}
    assert sent[handoffs[0].lead.crm_id]["Status"] == "Working - Contacted"
    for handoff in handoffs[:2]:
        assert org.lead(handoff.lead.crm_id)["Status"] == "Working - Contacted"
    skipped = WriteBack.objects.get(lead=converted_in_crm.lead)
    assert skipped.error_code == "CANNOT_UPDATE_CONVERTED_LEAD"
    # The write-back bumped SystemModstamp in Salesforce: the next pull takes the new status, qualifies nothing.
    run = sync()
    assert run.outcome == SyncRun.Outcome.SUCCEEDED
    assert run.qualified == 0
    assert Lead.objects.get(pk=handoffs[0].lead_id).status == "Working - Contacted"
