"""The manager reports' writes: the summary the reports read, kept current by a job; the Monday summary mail.

- `report_facts_refresh` rewrites the summary rows (`ReportFact`, one per handoff and round of clocks;
  `ReportDispute`, one per dispute) of every handoff changed since its last run (`Handoff.updated_at`: every
  transition sets it, and so do the clocks the CRM moves), a few minutes of overlap included so that a transaction
  committing late is not missed; `full=True` rewrites them all (the nightly rebuild, a new install, the demo). One
  `INSERT … SELECT … ON CONFLICT DO UPDATE` for the handoffs, whatever their number.
- `report_weekly_summaries_create` writes each manager's mail about last week, from Monday 08:00 in the manager's
  own zone, at most one per manager and week; `report_weekly_summaries_send` delivers them through the outbox
  sender the SLA notices and feedback digests use.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from handoff import businesstime
from handoff.models import (
    Handoff,
    HandoffEvent,
    Lead,
    Milestone,
    ReportDispute,
    ReportFact,
    ReportRefresh,
    Role,
    Team,
    WeeklySummary,
)
from handoff.models.reports import CLOCKS, ClockStatus
from handoff.selectors.calendars import calendars_load, owner_calendar_ids
from handoff.selectors.reports import weekly_figures

from .jobs import job_after_commit
from .notifications import Message, SendResult, outbox_send

log = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=10)  # changes re-read at each refresh: longer than any transaction that writes them
SEND_TASK = "handoff.reports_send_weekly_summaries"
BATCH = 5000  # handoff ids per query of the disputes' events


@dataclass
class RefreshResult:
    full: bool
    rounds: int  # summary rows written
    disputes: int
    as_of: datetime


def report_facts_refresh(*, full: bool = False, now: datetime | None = None) -> RefreshResult:
    """Bring the report summary up to `now`: the handoffs changed since the last refresh, or (full) every one.

    Runs in one transaction holding the refresh row, so two runs take turns; the second finds little to do.
    """
    now = now or timezone.now()
    with transaction.atomic():
        state = _refresh_state()
        since = None if full or state.refreshed_at is None else min(state.refreshed_at, now) - OVERLAP
        rounds = _facts_upsert(since, now)
        disputes = _disputes_refresh(since)
        state.refreshed_at = now
        state.rows = rounds
        if since is None:
            state.rebuilt_at = now
        state.save()
    return RefreshResult(full=since is None, rounds=rounds, disputes=disputes, as_of=now)


def _refresh_state() -> ReportRefresh:
    if not ReportRefresh.objects.filter(pk=1).exists():
        try:
            with transaction.atomic():  # a savepoint: another run may create it at the same time
                ReportRefresh.objects.create(pk=1)
        except IntegrityError:
            pass
    return ReportRefresh.objects.select_for_update().get(pk=1)


def _status(c: str) -> str:
    """Where clock `c` stands (ClockStatus): breached, met, paused, ended (after its due time: missed), running."""
    return (
        f"CASE WHEN {c}.id IS NULL THEN {int(ClockStatus.NONE)} "
        f"WHEN {c}.breached_at IS NOT NULL THEN {int(ClockStatus.MISSED)} "
        f"WHEN {c}.met_at IS NOT NULL THEN {int(ClockStatus.MET)} "
        f"WHEN {c}.paused_at IS NOT NULL THEN {int(ClockStatus.PAUSED)} "
        f"WHEN {c}.stopped_at IS NOT NULL AND {c}.stopped_at > {c}.due_at THEN {int(ClockStatus.MISSED)} "
        f"WHEN {c}.stopped_at IS NOT NULL THEN {int(ClockStatus.STOPPED)} "
        f"ELSE {int(ClockStatus.RUNNING)} END"
    )


def _facts_upsert(since: datetime | None, now: datetime) -> int:
    quote = connection.ops.quote_name
    h, lead, m, e = (quote(model._meta.db_table) for model in (Handoff, Lead, Milestone, HandoffEvent))
    round_ = "COALESCE(a.round, 1)"
    first = f"{round_} = 1"
    running = "{c}.met_at IS NULL AND {c}.breached_at IS NULL AND {c}.paused_at IS NULL AND {c}.stopped_at IS NULL"
    reject_event = (
        f"(SELECT e.reason_id FROM {e} e WHERE e.handoff_id = h.id AND e.action = 'reject' AND e.at = h.rejected_at "
        "ORDER BY e.id DESC LIMIT 1)"
    )
    columns = {
        "handoff_id": "h.id",
        "round": round_,
        "qualified_at": "h.qualified_at",
        "owner_id": "h.owner_id",
        "lead_source": "l.lead_source",
        "segment": "COALESCE(a1.segment, '')",
        "definition_id": "h.definition_id",
        "policy_id": "a1.policy_id",
        "sequence": "h.sequence",
        "accepted": f"({first} AND h.accepted_at IS NOT NULL)",
        "rejected": f"({first} AND h.rejected_at IS NOT NULL)",
        "converted": f"({first} AND h.converted_at IS NOT NULL)",
        "recycled": f"({first} AND h.recycled_at IS NOT NULL)",
        # The standing rejection's reason: the handoff's own while rejected or disputed; once recycled, the
        # handoff's reason is the recycle's, and the reject event says why it was rejected.
        "reject_reason_id": f"CASE WHEN NOT ({first}) OR h.rejected_at IS NULL THEN NULL "
        f"WHEN h.state IN ('rejected', 'disputed') THEN h.reason_id ELSE {reject_event} END",
    }
    for kind, alias in zip(CLOCKS, ("a", "t", "f"), strict=True):
        columns[f"{kind}_status"] = _status(alias)
        columns[f"{kind}_due_at"] = f"CASE WHEN {running.format(c=alias)} THEN {alias}.due_at END"
        columns[f"{kind}_seconds"] = f"CASE WHEN {alias}.met_at IS NOT NULL THEN {alias}.business_seconds_taken END"
    columns["connect_seconds"] = "t.business_seconds_to_connect"
    columns["refreshed_at"] = "%s"
    params: list = [now]
    where = "1 = 1"
    if since is not None:
        where = "h.updated_at >= %s"
        params.append(since)
    fields = {f.attname: f.column for f in ReportFact._meta.concrete_fields}
    targets = ", ".join(quote(fields[name]) for name in columns)
    updates = ", ".join(
        f"{quote(fields[name])} = excluded.{quote(fields[name])}"
        for name in columns
        if name not in ("handoff_id", "round")
    )
    sql = (
        f"INSERT INTO {quote(ReportFact._meta.db_table)} ({targets}) "
        f"SELECT {', '.join(columns.values())} FROM {h} h "
        f"JOIN {lead} l ON l.id = h.lead_id "
        f"LEFT JOIN {m} a ON a.handoff_id = h.id AND a.kind = 'accept' "
        f"LEFT JOIN {m} a1 ON a1.handoff_id = h.id AND a1.kind = 'accept' AND a1.round = 1 "
        f"LEFT JOIN {m} t ON t.handoff_id = h.id AND t.kind = 'first_touch' AND t.round = {round_} "
        f"LEFT JOIN {m} f ON f.handoff_id = h.id AND f.kind = 'follow_up' AND f.round = {round_} "
        f"WHERE {where} ORDER BY h.id, {round_} "
        f"ON CONFLICT ({quote(fields['handoff_id'])}, {quote(fields['round'])}) DO UPDATE SET {updates}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _disputes_refresh(since: datetime | None) -> int:
    """Each dispute of the changed handoffs with its decision (the first after it) and the business time it took,
    in the calendar whose hours count for the handoff."""
    disputes = HandoffEvent.objects.filter(action="dispute")
    if since is not None:
        disputes = disputes.filter(handoff__updated_at__gte=since)
    found = list(disputes.values_list("pk", "handoff_id", "at").order_by("handoff_id", "at", "pk"))
    written = 0
    for start in range(0, len(found), BATCH):
        written += _disputes_write(found[start : start + BATCH])
    return written


def _disputes_write(disputes: list[tuple[int, int, datetime]]) -> int:
    ids = sorted({handoff_id for _, handoff_id, _ in disputes})
    decisions: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for handoff_id, at, data in (
        HandoffEvent.objects.filter(action="resolve", handoff_id__any=ids)
        .values_list("handoff_id", "at", "data")
        .order_by("at", "pk")
    ):
        decisions[handoff_id].append((at, (data or {}).get("decision", "")))
    owners = dict(Handoff.objects.filter(pk__any=ids).values_list("pk", "owner_id"))
    facts = dict(ReportFact.objects.filter(handoff_id__any=ids, round=1).values_list("handoff_id", "pk"))
    calendar_of = owner_calendar_ids(set(owners.values()))
    calendars = calendars_load({c for c in calendar_of.values() if c is not None})
    rows = []
    for event_id, handoff_id, at in disputes:
        resolved_at, decision = next(((r, d) for r, d in decisions[handoff_id] if r >= at), (None, ""))
        calendar = calendars.get(calendar_of.get(owners[handoff_id]))
        seconds = None
        if resolved_at is not None and calendar is not None:
            seconds = round(businesstime.between(at, resolved_at, calendar).total_seconds())
        rows.append(
            ReportDispute(
                event_id=event_id,
                fact_id=facts[handoff_id],
                disputed_at=at,
                resolved_at=resolved_at,
                decision=decision,
                business_seconds=seconds,
            )
        )
    ReportDispute.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["event"],
        update_fields=["fact", "disputed_at", "resolved_at", "decision", "business_seconds"],
        batch_size=1000,
    )
    return len(rows)


# ---------------------------------------------------------------------------------------------
# The Monday summary mail
# ---------------------------------------------------------------------------------------------
@dataclass
class WeeklyResult:
    made: int = 0
    skipped: int = 0  # managers whose mail of the week was already written (another run, or earlier)


def weekly_time() -> time:
    return time.fromisoformat(settings.REPORT_WEEKLY_TIME)


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or settings.TIME_ZONE)
    except (KeyError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def report_weekly_summaries_create(*, now: datetime | None = None) -> WeeklyResult:
    """Write the mail about last week of every manager whose Monday REPORT_WEEKLY_TIME (their zone) has come.

    Last week is the Monday to Sunday before the manager's Monday, in days of TIME_ZONE (the report's weeks), and
    it is set beside the week before it. Written until the end of that Monday; a manager whose worker was down all
    Monday has the figures on the report page. Once per manager and week (a unique row: a second run or a second
    worker writes none). The summary is refreshed first; the sender is queued after commit.
    """
    now = now or timezone.now()
    result = WeeklyResult()
    managers = (
        get_user_model()
        .objects.filter(is_active=True, groups__name=Role.MANAGER, managed_teams__isnull=False)
        .distinct()
        .values_list("pk", "profile__time_zone")
    )
    due: dict[int, date] = {}
    for pk, zone in managers:
        local = now.astimezone(_zone(zone))
        if local.weekday() == 0 and local.time() >= weekly_time():
            due[pk] = local.date() - timedelta(weeks=1)
    if not due:
        return result
    done = set(WeeklySummary.objects.filter(manager_id__in=list(due), week__in=set(due.values())).values_list(
        "manager_id", "week"))
    due = {pk: week for pk, week in due.items() if (pk, week) not in done}
    result.skipped = len(done)
    if not due:
        return result
    report_facts_refresh(now=now)
    teams: dict[int, list[int]] = defaultdict(list)
    for team_id, manager_id in Team.objects.filter(manager_id__in=list(due)).values_list("pk", "manager_id"):
        teams[manager_id].append(team_id)
    with transaction.atomic():
        for manager_id, week in sorted(due.items()):
            figures = weekly_figures(team_ids=teams[manager_id], week=week)
            try:
                with transaction.atomic():  # a savepoint: a row another worker wrote is skipped, not fatal
                    WeeklySummary.objects.create(
                        manager_id=manager_id, week=week, figures=figures, next_attempt_at=now, created_at=now
                    )
            except IntegrityError:
                result.skipped += 1
                continue
            result.made += 1
        if result.made:
            job_after_commit(SEND_TASK)
    return result


def _shown(value, unit: str) -> str:
    if value is None:
        return "—"
    if not unit:
        return f"{value}"
    return f"{value}{unit}" if unit.startswith("/") else f"{value} {unit}"


def _change(row: dict) -> str:
    change = row["change"]
    if change is None:
        return ""
    if not change:
        return "no change"
    unit = {"%": " points", "h": " h", "/5": ""}.get(row["unit"], "")
    word = "better" if row["better"] else "worse"
    return f"{'+' if change > 0 else '−'}{abs(change):g}{unit}, {word}"


def weekly_summary_message(summary: WeeklySummary) -> Message:
    """The mail (text and HTML) and its Slack line, from the figures stored when it was written."""
    manager = summary.manager
    name = manager.get_full_name() or manager.get_username()
    figures = summary.figures
    site = settings.SITE_URL.rstrip("/")
    rows = [
        {"label": row["label"], "this": _shown(row["this"], row["unit"]), "before": _shown(row["before"], row["unit"]),
         "change": _change(row), "better": row["better"]}
        for row in figures.get("rows", [])
    ]
    context = {"name": name, "figures": figures, "rows": rows,
               "url": site + reverse("reports") + "?" + figures.get("query", "")}
    subject = f"Your team's week of {figures.get('week_label', summary.week.isoformat())}: who kept the agreement"
    return Message(
        subject=subject,
        text=render_to_string("handoff/email/weekly_summary.txt", context),
        html=render_to_string("handoff/email/weekly_summary.html", context),
        recipients=[manager.email] if manager.email else [],
        slack=f"{name}: last week's SLA report is ready: {context['url']}",
    )


def report_weekly_summaries_send(*, now: datetime | None = None, limit: int = 200) -> SendResult:
    """Deliver due weekly summaries (mail, and a Slack line when configured), each channel once, with retries."""
    return outbox_send(
        model=WeeklySummary,
        now=now or timezone.now(),
        limit=limit,
        load=lambda ids: WeeklySummary.objects.select_related("manager").in_bulk(ids),
        compose=weekly_summary_message,
        max_attempts=settings.REPORT_WEEKLY_MAX_ATTEMPTS,
    )
