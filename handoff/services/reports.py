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

import json
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from handoff import businesstime
from handoff.models import (
    FeedbackOutcome,
    FeedbackRequest,
    Handoff,
    HandoffEvent,
    Lead,
    LeadFeedback,
    LeadFeedbackRevision,
    Milestone,
    ReportDay,
    ReportDispute,
    ReportFact,
    ReportRefresh,
    Role,
    Team,
    WeeklySummary,
)
from handoff.models.reports import CLOCKS, ClockStatus
from handoff.selectors.calendars import calendars_load, owner_calendar_ids, people_time_zones
from handoff.selectors.quality import report_zone
from handoff.selectors.reports import DAY_KEYS, day_counts, day_rows, weekly_figures

from .jobs import job_after_commit
from .notifications import Message, SendResult, outbox_send

log = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=10)  # changes re-read at each refresh: longer than any transaction that writes them
REVISION_WINDOW = 100_000  # feedback revisions re-read behind the last one read (people write them one at a time)
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

    Runs in one transaction holding the refresh row, so two runs take turns; the second finds little to do. The
    day counts (`ReportDay`) of every day a rewritten handoff was qualified on are counted again from the facts, and
    when a figure may have changed the summary gets a new generation, which retires every cached report.
    """
    now = now or timezone.now()
    with transaction.atomic():
        state = _refresh_state()
        since = None if full or state.refreshed_at is None else min(state.refreshed_at, now) - OVERLAP
        mark = LeadFeedbackRevision.objects.aggregate(mark=Max("pk"))["mark"] or 0
        ids = None if since is None else _changed(since, state.revision_mark)
        rounds, days = _facts_upsert(ids, now) if ids is None or ids else (0, set())
        disputes = _disputes_refresh(ids) if ids is None or ids else 0
        if ids is None or not state.generation:  # every day (also the first refresh since the days were added)
            _days_count(None)
        elif days:
            _days_count(sorted(days))
        # A new generation retires every cached report: when a row was written, or a clock still running fell due
        # since the last refresh (it counts as missed from now on). Otherwise the figures are those of the last
        # refresh and the cached reports stand, only later (a quiet night keeps them).
        if ids is None or rounds or disputes or not state.generation or _fell_due(state.refreshed_at, now):
            state.generation = uuid.uuid4().hex
        state.refreshed_at, state.rows, state.revision_mark = now, rounds, mark
        if since is None:
            state.rebuilt_at = now
        state.save()
    return RefreshResult(full=since is None, rounds=rounds, disputes=disputes, as_of=now)


def _fell_due(since: datetime | None, now: datetime) -> bool:
    """Whether a clock of the summary still running fell due in (since, now] (the partial indexes of the running
    clocks answer it)."""
    if since is None:
        return True
    return any(
        ReportFact.objects.filter(
            **{f"{clock}_status": ClockStatus.RUNNING, f"{clock}_due_at__gt": since, f"{clock}_due_at__lte": now}
        ).exists()
        for clock in CLOCKS  # one look-up per clock, each in its own partial index
    )


def _refresh_state() -> ReportRefresh:
    if not ReportRefresh.objects.filter(pk=1).exists():
        try:
            with transaction.atomic():  # a savepoint: another run may create it at the same time
                ReportRefresh.objects.create(pk=1)
        except IntegrityError:
            pass
    return ReportRefresh.objects.select_for_update().get(pk=1)


def _changed(since: datetime, revision_mark: int) -> list[int]:
    """The handoffs whose figures may have changed since `since`: a transition or a clock the CRM moved (its
    `updated_at`), a feedback request asked (pending, by the index of each rater's requests), a rating given or
    changed (the append-only revisions after the last read, REVISION_WINDOW ids back for a transaction that
    committed late). A request withdrawn because its rater left is counted again by the nightly rebuild."""
    ids = set(Handoff.objects.filter(updated_at__gte=since).values_list("pk", flat=True))
    # Every rater's pending requests asked since then, one descent per person of the (rater, outcome, asked_at)
    # index (a scan of every request otherwise).
    raters = list(get_user_model().objects.values_list("pk", flat=True))
    ids.update(
        FeedbackRequest.objects.filter(
            rater_id__any=raters, outcome=FeedbackOutcome.PENDING, asked_at__gte=since
        ).values_list("handoff_id", flat=True)
    )
    ids.update(
        LeadFeedbackRevision.objects.filter(pk__gt=max(revision_mark - REVISION_WINDOW, 0), at__gte=since)
        .values_list("feedback__handoff_id", flat=True)
    )
    return sorted(ids)


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


def _among(column: str, ids: list[int] | None) -> tuple[str, list]:
    """`column` among these ids, as one parameter: an array on PostgreSQL, a JSON list on SQLite; None: all."""
    if ids is None:
        return "1 = 1", []
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [ids]
    return f"{column} IN (SELECT value FROM json_each(%s))", [json.dumps(ids)]


def _facts_upsert(ids: list[int] | None, now: datetime) -> tuple[int, set[date]]:
    """Write the summary rows of these handoffs (None: of every handoff) in one INSERT … SELECT … ON CONFLICT.
    Returns the rows written and the days (of TIME_ZONE) they were qualified on."""
    quote = connection.ops.quote_name
    h, lead, m, e, fr, lf = (
        quote(model._meta.db_table)
        for model in (Handoff, Lead, Milestone, HandoffEvent, FeedbackRequest, LeadFeedback)
    )
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
    for name, source in (("feedback_asked", "asked"), ("feedback_answered", "answered"), ("rating_sum", "rating_sum"),
                         ("rated", "rated")):
        columns[name] = f"CASE WHEN {first} THEN COALESCE(fb.{source}, 0) ELSE 0 END"
    columns["refreshed_at"] = "%s"
    asked_in, asked_params = _among("r.handoff_id", ids)
    where, where_params = _among("h.id", ids)
    feedback = (
        "SELECT r.handoff_id AS handoff_id, COUNT(*) AS asked, "
        "SUM(CASE WHEN r.outcome = 'answered' THEN 1 ELSE 0 END) AS answered, "
        "SUM(CASE WHEN r.outcome = 'answered' THEN q.rating ELSE 0 END) AS rating_sum, "
        "SUM(CASE WHEN r.outcome = 'answered' AND q.rating IS NOT NULL THEN 1 ELSE 0 END) AS rated "
        f"FROM {fr} r LEFT JOIN {lf} q ON q.request_id = r.id "
        f"WHERE r.outcome <> 'withdrawn' AND {asked_in} GROUP BY r.handoff_id"
    )
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
        f"LEFT JOIN ({feedback}) fb ON fb.handoff_id = h.id "
        f"WHERE {where} ORDER BY h.id, {round_} "
        f"ON CONFLICT ({quote(fields['handoff_id'])}, {quote(fields['round'])}) DO UPDATE SET {updates}"
    )
    if ids is None:
        with connection.cursor() as cursor:
            cursor.execute(sql, [now, *asked_params, *where_params])
            return cursor.rowcount, set()
    zone = report_zone()
    column = ReportFact._meta.get_field("qualified_at")
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {quote(column.column)}", [now, *asked_params, *where_params])
        rows = cursor.fetchall()
    days = set()
    for (at,) in rows:
        if isinstance(at, str):  # SQLite
            at = column.to_python(at)
        days.add(timezone.localtime(at if timezone.is_aware(at) else timezone.make_aware(at, UTC), zone).date())
    return len(rows), days


def _days_count(days: list[date] | None) -> None:
    """Count these days (of TIME_ZONE; None: all) again from their facts: the days' rows are deleted and written
    anew with one `INSERT … SELECT … GROUP BY`, in the order of their days (a period's rows lie together). The
    refresh passes the days of the facts it wrote: a handoff's qualification time never changes, so the days its
    facts were counted in are the days they are counted in now."""
    rows = ReportDay.objects.all() if days is None else ReportDay.objects.filter(day__in=days)
    rows.delete()
    source = day_rows(ReportFact.objects.all(), days=days)
    sql, params = source.query.sql_with_params()
    quote = connection.ops.quote_name
    names = [*DAY_KEYS, *day_counts()]  # the source's columns, by name
    fields = {f.attname: f.column for f in ReportDay._meta.concrete_fields}
    monday = (
        "CAST(date_trunc('week', source.qualified_on) AS date)"
        if connection.vendor == "postgresql"
        else "date(source.qualified_on, 'weekday 0', '-6 days')"
    )
    targets = ", ".join(quote(fields[name]) for name in ("day", "week", *names))
    selected = ", ".join(["source.qualified_on", monday, *(f"source.{quote(name)}" for name in names)])
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {quote(ReportDay._meta.db_table)} ({targets}) "
                       f"SELECT {selected} FROM ({sql}) AS source ORDER BY source.qualified_on", params)


def _disputes_refresh(ids: list[int] | None) -> int:
    """Each dispute of these handoffs (None: of all) with its decision (the first after it), the business time it
    took in the calendar whose hours count for the handoff, and the group keys of the handoff's round-1 fact."""
    disputes = HandoffEvent.objects.filter(action="dispute")
    if ids is not None:
        disputes = disputes.filter(handoff_id__any=ids)
    found = list(disputes.values_list("pk", "handoff_id", "at").order_by("handoff_id", "at", "pk"))
    written = 0
    for start in range(0, len(found), BATCH):
        written += _disputes_write(found[start : start + BATCH])
    return written


_KEYS = ("qualified_at", "owner_id", "lead_source", "segment", "definition_id", "policy_id")


def _disputes_write(disputes: list[tuple[int, int, datetime]]) -> int:
    ids = sorted({handoff_id for _, handoff_id, _ in disputes})
    decisions: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for handoff_id, at, data in (
        HandoffEvent.objects.filter(action="resolve", handoff_id__any=ids)
        .values_list("handoff_id", "at", "data")
        .order_by("at", "pk")
    ):
        decisions[handoff_id].append((at, (data or {}).get("decision", "")))
    keys = {
        row["handoff_id"]: row
        for row in ReportFact.objects.filter(handoff_id__any=ids, round=1).values("handoff_id", *_KEYS)
    }
    calendar_of = owner_calendar_ids({row["owner_id"] for row in keys.values()})
    calendars = calendars_load({c for c in calendar_of.values() if c is not None})
    rows = []
    for event_id, handoff_id, at in disputes:
        resolved_at, decision = next(((r, d) for r, d in decisions[handoff_id] if r >= at), (None, ""))
        key = keys[handoff_id]
        calendar = calendars.get(calendar_of.get(key["owner_id"]))
        seconds = None
        if resolved_at is not None and calendar is not None:
            seconds = round(businesstime.between(at, resolved_at, calendar).total_seconds())
        rows.append(
            ReportDispute(
                event_id=event_id,
                handoff_id=handoff_id,
                disputed_at=at,
                resolved_at=resolved_at,
                decision=decision,
                business_seconds=seconds,
                **{name: key[name] for name in _KEYS},
            )
        )
    ReportDispute.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["event"],
        update_fields=["disputed_at", "resolved_at", "decision", "business_seconds", *_KEYS],
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
        .values_list("pk", flat=True)
    )
    due: dict[int, date] = {}
    for pk, zone in people_time_zones(managers).items():
        local = now.astimezone(zone)
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
