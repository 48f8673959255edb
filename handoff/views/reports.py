"""The manager reports: who keeps the agreement, on both sides (with its charts and CSV downloads), and where the
relationship stands. Managers read their teams, marketing every team in aggregate, an admin everything."""
from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.safestring import mark_safe

from handoff import charts
from handoff.charts import Series
from handoff.forms import ReportFilterForm
from handoff.models import LeadDefinition, Role, SlaPolicy
from handoff.segments import parse_segments
from handoff.selectors.quality import report_zone
from handoff.selectors.reports import (
    CLOCK_LABELS,
    LEVELS,
    PRESETS,
    REPORT_TABLES,
    THRESHOLDS,
    Report,
    ReportDenied,
    Table,
    cell,
    check_query,
    relationship,
    relationship_table,
    report,
    report_scope,
    report_tables,
    report_today,
    table_csv,
    threshold,
    visible_teams,
)

from .common import page


def _scope_or_403(request):
    scope = report_scope(request.user)
    if scope is None:
        raise PermissionDenied("The reports are for managers, marketing and admins.")
    return scope


def csv_response(table: Table, name: str) -> HttpResponse:
    response = HttpResponse(table_csv(table), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


@page()
def reports_page(request):
    scope = _scope_or_403(request)
    today = report_today(timezone.now())
    form = ReportFilterForm(request.GET, today=today, default_group=scope.default_group(), tables=REPORT_TABLES)
    if not form.is_valid():
        context = {"form": form, "scope": scope, "zone": report_zone(), "presets": PRESETS,
                   "error": form.first_error(), **_choices(scope)}
        return render(request, "handoff/reports.html", context, status=400)
    query = form.query()
    try:
        check_query(scope, query)
    except ReportDenied as exc:
        raise PermissionDenied(exc.message) from exc
    result = report(scope=scope, query=query)
    tables = report_tables(result)
    if request.GET.get("format") == "csv":
        name = form.cleaned_data.get("table") or "sales"
        return csv_response(tables[name], f"handoff-{name}-{query.start}-{query.end}")
    base = {k: v for k, v in request.GET.items() if k not in ("format", "table")}
    csv = {name: "?" + urlencode({**base, "format": "csv", "table": name}) for name in REPORT_TABLES}
    found = _charts(result, tables)
    group_chart = _group_chart(result, tables)
    for chart in [*found, group_chart]:
        chart["csv_url"] = csv[chart["csv"]]
    minimum = result.policy.min_acceptance_rate if result.policy is not None else None
    context = {"form": form, "scope": scope, "zone": report_zone(), "presets": PRESETS,
               "reader_zone": timezone.get_current_timezone_name(), **_choices(scope)}
    context.update(
        report=result,
        query=query,
        tables={name: _rendered(table) for name, table in tables.items()},
        csv=csv,
        charts=found,
        group_chart=group_chart,
        minimum_pct=None if minimum is None else round(float(minimum) * 100, 1),
        reasons_chart=_reasons_chart(result) if result.reasons else "",
        total=result.total.row(),
        goal=threshold("REPORT_SLA_ATTAINMENT_MIN"),
    )
    return render(request, "handoff/reports.html", context)


def _choices(scope) -> dict:
    """The filter bar's choices: the teams and reps the reader sees, the segments, versions."""
    reps = []
    if scope.per_rep:
        people = get_user_model().objects.filter(groups__name=Role.SALES_REP).order_by("first_name", "username")
        if scope.rep_team_ids is not None:
            people = people.filter(profile__team_id__in=scope.rep_team_ids)
        reps = [(u.pk, u.get_full_name() or u.get_username()) for u in people.distinct()]
    segments = set()
    for raw in SlaPolicy.objects.values_list("segments", flat=True):
        try:
            segments.update(s.name for s in parse_segments(raw))
        except ValueError:
            continue
    return {
        "teams": visible_teams(scope),
        "reps": reps,
        "segments": sorted(segments),
        "definitions": list(LeadDefinition.objects.order_by("version").values_list("version", flat=True)),
        "policies": list(SlaPolicy.objects.order_by("version").values_list("version", flat=True)),
    }


def _text(value, unit: str) -> str:
    """A value with its unit, as the page shows it: "83.3 %", "1.25 h", "3.5/5"; "—" for none."""
    if value is None:
        return "—"
    text = cell(value)
    if not unit:
        return text
    return f"{text}{unit}" if unit.startswith("/") else f"{text} {unit}"


def _rendered(table: Table) -> dict:
    """The table as the page shows it: each cell's value with its unit, and its detail line (the other values)."""

    def cells(row: dict) -> list[tuple[str, str, str]]:
        found = []
        for column in table.columns:
            detail = ""
            if column.detail and all(row.get(key) is not None for key in column.detail_keys):
                detail = column.detail.format(**{key: cell(row[key]) for key in column.detail_keys})
            found.append((column.label, _text(row.get(column.key), column.unit), detail))
        return found

    return {
        "table": table,
        "rows": [(row, cells(row)) for row in table.rows],
        "total": (table.total, cells(table.total)) if table.total is not None else None,
    }


def _week_label(key: str) -> str:
    monday = date.fromisoformat(key)
    return f"{monday:%b} {monday.day}"


def _charts(result: Report, tables: dict[str, Table]) -> list[dict]:
    """Each chart with the table of its numbers (a part of one of the page's tables, and that table's CSV)."""
    weeks = tables["weeks"].rows
    labels = [_week_label(row["key"]) for row in weeks]
    found = []

    def add(key: str, title: str, svg: str, table: Table) -> None:
        found.append({"id": key, "title": title, "svg": mark_safe(svg), "table": _rendered(table), "csv": table.name})

    def line(key, title, columns, unit="", top=None, extra=()):
        series = [Series(label, [row[name] for row in weeks], style) for style, (name, label) in enumerate(columns)]
        svg = charts.line_chart(title=title, categories=labels, series=[*series, *extra], unit=unit, top=top)
        add(key, title, svg, tables["weeks"].only([name for name, _ in columns]))

    if result.targets:
        series = []
        for i, target in enumerate(result.targets[:3]):
            series.append(Series(f"{target.label}: MQLs", [float(w.mqls) for w in target.weeks], i))
            series.append(Series(f"target {target.per_week}", [float(target.per_week)] * len(target.weeks), i,
                                 dashed=True))
        title = "MQLs a week against the targets"
        add("mqls", title, charts.line_chart(title=title, categories=labels, series=series), tables["targets"])
    else:
        line("mqls", "MQLs handed over a week", [("handoffs", "MQLs")])
    line("outcomes", "Accepted, rejected and converted, % of the handoffs",
         [("accepted_pct", "accepted"), ("rejected_pct", "rejected"), ("converted_pct", "converted")], "%", 100)
    goal = threshold("REPORT_SLA_ATTAINMENT_MIN")
    line("attainment", "SLA clocks met in time, % of those due",
         [(f"{clock}_attainment_pct", CLOCK_LABELS[clock].lower()) for clock in ("accept", "first_touch",
                                                                                  "follow_up")],
         "%", 100, [Series(f"goal {goal} %", [float(goal)] * len(weeks), 5, dashed=True)])
    line("times", "Median business hours", [("accept_median_h", "to accept/reject"),
                                            ("first_touch_median_h", "to first touch"),
                                            ("first_connect_median_h", "to first connect")], "h")
    minimum = result.policy.min_acceptance_rate if result.policy is not None else None
    floor = []
    if minimum is not None:
        floor = [Series(f"minimum {round(float(minimum) * 100, 1)} %", [float(minimum) * 100] * len(weeks), 5,
                        dashed=True)]
    line("acceptance", "Acceptance rate: accepted of the decided, %", [("acceptance_rate_pct", "acceptance rate")],
         "%", 100, floor)
    line("feedback", "Feedback answered, % of asked", [("feedback_coverage_pct", "coverage")], "%", 100)
    line("rating", "Average lead rating (1–5)", [("average_rating", "average rating")], "", 5)
    return found


def _group_chart(result: Report, tables: dict[str, Table]) -> dict:
    rows = tables["sales"].rows
    clocks = ("accept", "first_touch", "follow_up")
    title = f"SLA clocks met in time by {result.group_label.lower()}, %"
    svg = charts.bar_chart(
        title=title,
        categories=[row["label"] for row in rows],
        series=[Series(CLOCK_LABELS[clock], [row[f"{clock}_attainment_pct"] for row in rows], i)
                for i, clock in enumerate(clocks)],
        unit="%",
        top=100,
    )
    table = tables["sales"].only([f"{clock}_attainment_pct" for clock in clocks])
    return {"id": "by_group", "title": title, "svg": mark_safe(svg), "table": _rendered(table), "csv": "sales"}


def _reasons_chart(result: Report) -> str:
    reasons = result.reasons
    return mark_safe(charts.pareto_chart(
        title="Why leads were rejected",
        categories=[r.label for r in reasons],
        counts=[r.count for r in reasons],
        cumulative=[r.cumulative for r in reasons],
    ))


@page()
def relationship_page(request):
    """Where the relationship stands: the organisation (who sees every team) or one team."""
    scope = _scope_or_403(request)
    teams = visible_teams(scope)
    raw = request.GET.get("team", "")
    team = None
    if raw:
        if not (raw.isascii() and raw.isdigit()):
            context = {"error": "team: enter a whole number.", "teams": teams, "scope": scope,
                       "thresholds": _thresholds()}
            return render(request, "handoff/relationship.html", context, status=400)
        team = int(raw)
    elif not scope.everything:
        team = teams[0][0] if teams else None
    names = dict(teams)
    if team is not None and team not in names:
        raise PermissionDenied("Not one of your teams.")
    context = {"teams": teams, "team": team, "scope": scope, "zone": report_zone(), "levels": LEVELS,
               "reader_zone": timezone.get_current_timezone_name(),
               "thresholds": _thresholds()}
    if team is None and not scope.everything:
        return render(request, "handoff/relationship.html", context)
    result = relationship(scope=scope, team=team, team_name=names.get(team, ""), today=report_today(timezone.now()))
    context["result"] = result
    context["reached"] = LEVELS[: LEVELS.index(result.level)]
    if request.GET.get("format") == "csv":
        table = relationship_table(result)
        return csv_response(table, f"handoff-relationship-{result.end}")
    return render(request, "handoff/relationship.html", context)


def _thresholds() -> list[tuple[str, int, int, str]]:
    return [(name, threshold(name), default, text) for name, (default, text) in THRESHOLDS.items()]
