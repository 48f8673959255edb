"""The sync against the Salesforce emulator: imports, incremental pulls, deletes, conversions and owners."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine
from django.db.models import Max
from django.test import override_settings
from django.utils import timezone

from handoff.models import Handoff, HandoffEvent, HandoffState, Lead, RepProfile, SyncRun, SyncState
from handoff.services.actors import Actor
from handoff.services.handoffs import handoff_qualify
from handoff.services.sync import sync_run
from tests.factories import make_user

from .conftest import assert_mirror, org_now

pytestmark = [pytest.mark.emulator, pytest.mark.django_db]


def _writes_nothing(sync) -> SyncRun:
    stamp = Lead.objects.aggregate(last=Max("updated_at"))["last"]
    events = HandoffEvent.objects.count()
    run = sync()
    assert run.outcome == SyncRun.Outcome.SUCCEEDED
    assert (run.created, run.updated, run.deleted, run.qualified) == (0, 0, 0, 0)
    assert Lead.objects.aggregate(last=Max("updated_at"))["last"] == stamp
    assert HandoffEvent.objects.count() == events
    return run


@override_settings(CRM_BULK_THRESHOLD=50_000)
def test_first_import_of_20000_leads_over_rest_mirrors_the_org(org, sync):
    org.reset(count=20_000)
    run = sync()
    assert (run.kind, run.outcome, run.used_bulk) == (SyncRun.Kind.FULL, SyncRun.Outcome.SUCCEEDED, False)
    assert_mirror(org)
    assert run.created == Lead.objects.count()
    assert run.watermark_after == Lead.objects.aggregate(last=Max("crm_modified_at"))["last"]
    assert run.qualified == Handoff.objects.count() > 0
    _writes_nothing(sync)


def test_first_import_of_20000_leads_uses_bulk_and_mirrors_the_org(org, sync):
    org.reset(count=20_000)
    run = sync()
    assert (run.kind, run.outcome, run.used_bulk) == (SyncRun.Kind.FULL, SyncRun.Outcome.SUCCEEDED, True)
    assert_mirror(org)
    assert SyncState.objects.get().watermark == Lead.objects.aggregate(last=Max("crm_modified_at"))["last"]
    assert any("/jobs/query" in r["path"] for r in org.requests())
    _writes_nothing(sync)


def test_incremental_pull_brings_changes_including_a_same_second_mass_update(org, sync):
    org.reset(count=1500)
    sync()
    changed = org.mutate(count=40, create=25, seed=3)
    # A mass update: hundreds of rows sharing one SystemModstamp second, more than one REST page.
    org.config(page_size=200)
    ids = list(
        Lead.objects.filter(is_deleted=False)
        .exclude(crm_id__in=changed["deleted"])
        .values_list("crm_id", flat=True)[:700]
    )
    second = org.stats()["now"][:19] + ".000+0000"
    records = org.call("GET", "leads", ids=",".join(ids))["records"]
    org.insert_leads([{**r, "Title": "Mass", "SystemModstamp": second} for r in records])
    run = sync()
    assert run.outcome == SyncRun.Outcome.SUCCEEDED
    assert run.created == 25
    assert Lead.objects.filter(title="Mass").count() == 700
    assert_mirror(org)
    _writes_nothing(sync)


def test_deleted_leads_are_tombstoned_and_their_handoffs_closed_and_undeletes_come_back(org, sync):
    org.reset(count=300)
    sync()
    victim = Lead.objects.filter(is_deleted=False, is_converted=False, handoffs__isnull=True).first()
    make_user("mark.marketer2", "marketer")
    from django.contrib.auth.models import User

    handoff = handoff_qualify(lead=victim, actor=Actor.person(User.objects.get(username="mark.marketer2")))
    deleted = org.mutate(count=0, delete=5, seed=9)["deleted"]
    org.delete_lead(victim.crm_id)
    run = sync()
    assert run.deleted == 6
    assert set(Lead.objects.filter(is_deleted=True).values_list("crm_id", flat=True)) >= {*deleted, victim.crm_id}
    handoff.refresh_from_db()
    assert handoff.state == HandoffState.CLOSED
    assert handoff.events.last().actor_kind == "sync"
    assert Lead.objects.filter(crm_id=victim.crm_id).exists()  # never hard-deleted
    assert_mirror(org)
    _writes_nothing(sync)

    org.call("POST", f"leads/{deleted[0]}/undelete")
    sync()
    assert not Lead.objects.get(crm_id=deleted[0]).is_deleted
    assert_mirror(org)
    _writes_nothing(sync)


def _early_in_a_minute(org) -> datetime:
    """Move the org's clock to two seconds into its next minute and return that minute: getDeleted covers whole
    minutes only, so it reports nothing deleted in this one until the minute is over."""
    org.call("POST", "clock", {"advance_seconds": 62 - org_now(org).second})
    return org_now(org).replace(second=0, microsecond=0)


def _pull_at_once(crm, org) -> SyncRun:
    """An incremental run now, without moving the org's clock (the `sync` fixture moves it two minutes first)."""
    with time_machine.travel(org_now(org), tick=True):
        run = sync_run(backend=crm)
    assert run.outcome == SyncRun.Outcome.SUCCEEDED
    return run


def test_leads_deleted_in_the_crm_are_gone_after_a_pull_at_once_with_their_handoffs_closed(org, sync, crm):
    org.reset(count=1000)
    sync()
    victim = Lead.objects.filter(is_deleted=False, is_converted=False, handoffs__isnull=True).first()
    handoff = handoff_qualify(lead=victim, actor=Actor.person(make_user("mark.marketer3", "marketer")))
    minute = _early_in_a_minute(org)
    deleted = org.mutate(count=0, delete=200, seed=9)["deleted"]
    org.delete_lead(victim.crm_id)
    first_request = org.stats()["api_requests"]

    run = _pull_at_once(crm, org)

    assert (run.kind, run.deleted) == (SyncRun.Kind.INCREMENTAL, 201)
    assert set(Lead.objects.filter(is_deleted=True).values_list("crm_id", flat=True)) >= {*deleted, victim.crm_id}
    handoff.refresh_from_db()
    assert handoff.state == HandoffState.CLOSED
    assert (handoff.events.last().actor_kind, handoff.events.last().note) == ("sync", "Deleted in the CRM.")
    assert_mirror(org)
    assert any("/queryAll" in r["path"] for r in org.requests() if r["seq"] > first_request)

    # Two more pulls in the same minute: nothing left to do, nothing written.
    stamp = Lead.objects.aggregate(last=Max("updated_at"))["last"]
    for _ in range(2):
        again = _pull_at_once(crm, org)
        assert (again.created, again.updated, again.deleted, again.closed) == (0, 0, 0, 0)
    assert Lead.objects.aggregate(last=Max("updated_at"))["last"] == stamp
    assert org_now(org).replace(second=0, microsecond=0) == minute  # getDeleted could not have reported them

    # Once the minute is over getDeleted reports the same deletions: already applied, so nothing more happens.
    _writes_nothing(sync)
    assert_mirror(org)


def test_a_lead_deleted_and_undeleted_between_pulls_at_once_comes_back(org, sync, crm):
    org.reset(count=300)
    sync()
    target = Lead.objects.filter(is_deleted=False, is_converted=False).first().crm_id
    _early_in_a_minute(org)
    org.delete_lead(target)
    assert _pull_at_once(crm, org).deleted == 1
    assert Lead.objects.get(crm_id=target).is_deleted

    org.call("POST", "clock", {"advance_seconds": 2})  # the undelete's SystemModstamp follows the delete's
    org.call("POST", f"leads/{target}/undelete")
    back = _pull_at_once(crm, org)

    assert (back.updated, back.deleted) == (1, 0)
    assert not Lead.objects.get(crm_id=target).is_deleted
    assert_mirror(org)
    sync()  # getDeleted now reports the deletion, older than the undelete: the lead stays
    assert not Lead.objects.get(crm_id=target).is_deleted
    assert Lead.objects.filter(crm_id=target).count() == 1
    assert_mirror(org)


def test_a_lead_purged_from_the_recycle_bin_before_the_pull_is_deleted_through_getdeleted(org, sync, crm):
    org.reset(count=300)
    sync()
    purged = Lead.objects.filter(is_deleted=False).first().crm_id
    _early_in_a_minute(org)
    org.call("DELETE", f"leads/{purged}", hard="1")

    # queryAll no longer has the row, and getDeleted reports it only once its minute is over.
    assert _pull_at_once(crm, org).deleted == 0
    run = sync()

    assert (run.kind, run.deleted) == (SyncRun.Kind.INCREMENTAL, 1)
    assert Lead.objects.get(crm_id=purged).is_deleted
    assert_mirror(org)


def test_a_crm_conversion_converts_the_open_handoff(org, sync):
    org.reset(count=300)
    sync()
    handoff = Handoff.objects.filter(state=HandoffState.QUALIFIED).select_related("lead").first()
    org.convert_lead(handoff.lead.crm_id)
    run = sync()
    handoff.refresh_from_db()
    assert handoff.state == HandoffState.CONVERTED
    assert run.converted == 1
    assert handoff.events.last().actor_kind == "sync"
    assert Lead.objects.get(pk=handoff.lead_id).is_converted
    assert_mirror(org)
    _writes_nothing(sync)


def test_owner_changes_reassign_the_open_handoff_and_a_queue_owner_leaves_it_unassigned(org, sync):
    org.reset(count=300)
    sync()
    users = {p.crm_user_id: p.user_id for p in RepProfile.objects.exclude(crm_user_id=None)}
    first, second = Handoff.objects.filter(state=HandoffState.QUALIFIED, owner__isnull=False).select_related("lead")[:2]
    new_owner = next(crm_id for crm_id, user_id in users.items() if user_id != first.owner_id)
    queue = Lead.objects.filter(crm_owner_id__startswith="00G").values_list("crm_owner_id", flat=True).first()
    org.update_lead(first.lead.crm_id, OwnerId=new_owner)
    org.update_lead(second.lead.crm_id, OwnerId=queue)
    run = sync()
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.owner_id == users[new_owner]
    assert second.owner_id is None
    assert Lead.objects.get(pk=second.lead_id).crm_owner_id == queue
    assert run.reassigned == 2
    assert first.events.last().action == "reassign"
    assert_mirror(org)
    _writes_nothing(sync)


def test_crm_users_become_reps_and_inactive_ones_inactive_profiles(org, sync):
    org.reset(count=50)
    sync()
    users = org.call("GET", "stats")
    profiles = RepProfile.objects.exclude(crm_user_id=None)
    assert profiles.count() >= 9
    assert profiles.filter(is_active=False).count() >= 1
    assert all(p.user.groups.filter(name="sales_rep").exists() for p in profiles)
    assert users  # the org answered
    owned = Lead.objects.exclude(crm_owner_id__startswith="00G").exclude(crm_owner_id="")
    assert owned.filter(owner__isnull=True).count() == 0


def test_the_nightly_reconcile_fetches_stale_leads_and_tombstones_purged_ones(org, sync):
    org.reset(count=2500)
    sync()
    purged = Lead.objects.filter(is_deleted=False).first().crm_id
    org.call("DELETE", f"leads/{purged}", hard="1")
    Lead.objects.filter(pk__in=Lead.objects.filter(is_deleted=False).values("pk")[:30]).update(title="Stale")
    run = sync(SyncRun.Kind.RECONCILE)
    assert (run.kind, run.outcome, run.deleted) == (SyncRun.Kind.RECONCILE, SyncRun.Outcome.SUCCEEDED, 1)
    assert Lead.objects.get(crm_id=purged).is_deleted
    assert_mirror(org)
    _writes_nothing(sync)


def test_a_pull_after_the_getdeleted_window_has_passed_reconciles_instead(org, sync):
    org.reset(count=300)
    sync()
    gone = org.mutate(count=0, delete=3, seed=4)["deleted"]
    SyncState.objects.update(deletes_checked_until=timezone.now() - timedelta(days=20))
    run = sync()
    assert (run.kind, run.deleted) == (SyncRun.Kind.RECONCILE, 3)
    assert set(gone) <= set(Lead.objects.filter(is_deleted=True).values_list("crm_id", flat=True))
    assert_mirror(org)
