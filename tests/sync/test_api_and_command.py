"""GET /api/sync-runs/ and `manage.py sync_crm`: what operators see of the sync."""
from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import include, path
from rest_framework.routers import DefaultRouter
from rest_framework.test import APIClient

from handoff.api.sync import SyncRunViewSet
from handoff.models import Lead, SyncRun
from handoff.services.sync.lease import LEASE, lease_acquire

from .memory_crm import T0, MemoryCrm, lead

pytestmark = pytest.mark.django_db

router = DefaultRouter()
router.register("sync-runs", SyncRunViewSet, basename="sync-run")
urlpatterns = [path("api/", include(router.urls))]


@pytest.fixture
def memory_crm(monkeypatch):
    crm = MemoryCrm([lead(1), lead(2)])
    for stage in ("runs", "preview"):  # where the runs and the dry run look the backend up
        monkeypatch.setattr(f"handoff.services.sync.{stage}.get_backend", lambda: crm)
    return crm


@pytest.mark.urls(__name__)
def test_managers_see_sync_runs_newest_first_and_reps_do_not(cast, memory_crm):
    call_command("sync_crm", stdout=StringIO())
    call_command("sync_crm", stdout=StringIO())
    client = APIClient()
    client.force_authenticate(cast.rep)
    assert client.get("/api/sync-runs/").status_code == 403
    client.force_authenticate(cast.manager)
    body = client.get("/api/sync-runs/").json()
    first, second = body["results"][1], body["results"][0]
    assert (first["kind"], first["outcome"], first["created"]) == ("full", "succeeded", 2)
    assert (second["kind"], second["created"], second["updated"]) == ("incremental", 0, 0)
    assert second["watermark_before"] == first["watermark_after"]
    assert client.get("/api/sync-runs/", {"kind": "full"}).json()["results"] == [first]
    assert client.delete(f"/api/sync-runs/{first['id']}/").status_code == 405


def test_the_command_prints_a_summary(memory_crm):
    out = StringIO()
    call_command("sync_crm", stdout=out)
    assert "Full import succeeded" in out.getvalue()
    assert "2 created" in out.getvalue()


def test_a_dry_run_reports_what_would_change_and_writes_nothing(memory_crm):
    out = StringIO()
    call_command("sync_crm", "--dry-run", stdout=out)
    assert "2 would be created" in out.getvalue()
    assert not Lead.objects.exists()
    assert not SyncRun.objects.exists()


def test_the_command_fails_with_one_line_naming_the_problem(memory_crm, settings):
    lease_acquire(name=LEASE, holder="someone-else", seconds=60)
    with pytest.raises(CommandError, match="^Another CRM sync is running"):
        call_command("sync_crm", stdout=StringIO())
    settings.CRM_FIELD_MAP = {"title": "Job_Title__c"}
    memory_crm.fields = {"Id", "Title"}
    with pytest.raises(CommandError) as failure:
        call_command("sync_crm", "--reconcile", stdout=StringIO())
    assert "\n" not in str(failure.value)


def test_a_reconcile_fetches_what_is_missing_or_stale_and_tombstones_what_is_gone(memory_crm):
    call_command("sync_crm", stdout=StringIO())
    Lead.objects.filter(crm_id=lead(1)["Id"]).update(title="Stale", crm_modified_at=T0 - timedelta(days=1))
    memory_crm.leads.pop(lead(2)["Id"])  # purged in the CRM
    memory_crm.leads[lead(3)["Id"]] = lead(3)
    call_command("sync_crm", "--reconcile", stdout=StringIO())
    run = SyncRun.objects.first()
    assert (run.kind, run.created, run.updated, run.deleted) == ("reconcile", 1, 1, 1)
    assert Lead.objects.get(crm_id=lead(1)["Id"]).title == "Rear Admiral"
    assert set(Lead.objects.filter(is_deleted=False).values_list("crm_id", flat=True)) == {lead(1)["Id"], lead(3)["Id"]}
