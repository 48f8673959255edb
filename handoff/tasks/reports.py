"""Tasks of the manager reports: the summary's refresh and nightly rebuild, the Monday mail and its sender."""
from celery import shared_task

from handoff.selectors.reports import reports_warm
from handoff.services.reports import (
    report_facts_refresh,
    report_weekly_summaries_create,
    report_weekly_summaries_send,
)


@shared_task(name="handoff.reports_refresh", acks_late=True, ignore_result=True, time_limit=300, soft_time_limit=280)
def reports_refresh() -> dict[str, int]:
    """Bring the report summary up to now: the handoffs changed since the last run (every minute), then compute
    again the reports read lately, so their readers find them cached. Idempotent; concurrent runs take turns.
    Returns the rounds and disputes written and the reports computed again."""
    result = report_facts_refresh()
    return {"rounds": result.rounds, "disputes": result.disputes, "warmed": reports_warm()}


@shared_task(name="handoff.reports_rebuild", acks_late=True, ignore_result=True, time_limit=1800, soft_time_limit=1740)
def reports_rebuild() -> dict[str, int]:
    """Rewrite the whole report summary from the handoffs (nightly): whatever changed without a handoff's
    `updated_at` (a lead source edited in the CRM) is counted right again. Returns the rounds and disputes written."""
    result = report_facts_refresh(full=True)
    return {"rounds": result.rounds, "disputes": result.disputes, "warmed": reports_warm()}


@shared_task(name="handoff.reports_weekly_summary", acks_late=True, ignore_result=True, time_limit=600,
             soft_time_limit=540)
def reports_weekly_summary() -> dict[str, int]:
    """Write the Monday mail of every manager whose 08:00 (REPORT_WEEKLY_TIME, their zone) has come, at most one per
    manager and week; the sender is queued after commit. Returns the counts."""
    result = report_weekly_summaries_create()
    return {"made": result.made, "skipped": result.skipped}


@shared_task(name="handoff.reports_send_weekly_summaries", acks_late=True, ignore_result=True, time_limit=300,
             soft_time_limit=280)
def reports_send_weekly_summaries(limit: int = 200) -> int:
    """Deliver due weekly summaries (limit: rows per run; a full run re-queues itself), retrying failures.
    Returns how many were sent."""
    result = report_weekly_summaries_send(limit=limit)
    if result.sent + result.retrying + result.failed >= limit:
        reports_send_weekly_summaries.delay(limit)
    return result.sent
