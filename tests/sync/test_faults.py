"""Faults in the middle of a sync lose nothing and duplicate nothing: each kind the emulator can inject."""
from __future__ import annotations

import pytest
from django.db.models import Max

from handoff.models import Lead, SyncRun, SyncState

from .conftest import assert_mirror

pytestmark = [pytest.mark.emulator, pytest.mark.django_db]

FAULTS = {
    "expire_session": {"action": "expire_session", "query_page": 3},
    "error_503_twice": {"action": "error", "status": 503, "times": 2, "query_page": 2},
    "truncate": {"action": "truncate", "query_page": 2},
    "malformed": {"action": "malformed", "query_page": 3},
    "drop_connection": {"action": "drop_connection", "query_page": 4},
    "error_on_page_3": {"action": "error", "status": 500, "query_page": 3},
}


@pytest.fixture
def paged_org(org):
    """1,500 leads read over REST in pages of 200."""
    org.reset(count=1500)
    org.config(page_size=200)
    return org


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_a_transient_fault_during_the_import_is_retried_and_the_mirror_is_exact(paged_org, sync, fault):
    paged_org.fault(**fault)
    run = sync()
    assert run.outcome == SyncRun.Outcome.SUCCEEDED, run.error
    assert paged_org.faults()[0]["fired"] >= 1
    assert_mirror(paged_org)
    again = sync()
    assert (again.created, again.updated) == (0, 0)


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_a_transient_fault_during_an_incremental_pull_is_retried(paged_org, sync, fault):
    sync()
    paged_org.mutate(count=1000, seed=5)
    paged_org.fault(**fault)
    run = sync()
    assert run.outcome == SyncRun.Outcome.SUCCEEDED, run.error
    assert run.updated == 1000
    assert paged_org.faults()[0]["fired"] >= 1
    assert_mirror(paged_org)


def test_rate_limit_stops_the_run_keeps_what_it_committed_and_the_next_run_finishes(paged_org, sync):
    paged_org.fault(action="rate_limit", query_page=3)
    stopped = sync()
    assert stopped.outcome == SyncRun.Outcome.STOPPED
    assert "REQUEST_LIMIT_EXCEEDED" in stopped.error or "limit" in stopped.error.lower()
    committed = Lead.objects.count()
    assert committed == 400  # two pages of 200
    assert SyncState.objects.get().watermark == Lead.objects.aggregate(last=Max("crm_modified_at"))["last"]
    run = sync()
    assert run.outcome == SyncRun.Outcome.SUCCEEDED
    assert_mirror(paged_org)


def test_a_fault_that_outlasts_the_retries_fails_the_run_and_the_next_run_resumes_from_the_watermark(
    paged_org, sync
):
    paged_org.fault(action="error", status=503, query_page=3, times=0)
    with pytest.raises(Exception, match="503|unavailable|Unavailable"):
        sync()
    failed = SyncRun.objects.get()
    assert failed.outcome == SyncRun.Outcome.FAILED
    assert failed.error
    assert Lead.objects.count() == 400
    assert failed.watermark_after == SyncState.objects.get().watermark
    paged_org.clear_faults()
    run = sync()
    assert run.outcome == SyncRun.Outcome.SUCCEEDED
    assert run.watermark_before == failed.watermark_after
    assert_mirror(paged_org)


def test_the_api_budget_stops_the_run_before_the_share_is_passed(paged_org, sync):
    paged_org.config(api_limit=1000, api_used=795)
    run = sync()
    assert run.outcome == SyncRun.Outcome.STOPPED
    assert "SALESFORCE_MAX_API_SHARE" in run.error
    assert run.api_used <= 800 + 1
