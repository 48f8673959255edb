"""Reading the report summary into figures, per grouping (None: the total), set-based.

- Counts and sums come from the day counts (`ReportDay`: a few hundred rows a day instead of every handoff), read
  once at the finest grain the report needs and added up here into each grouping. A clock still running counts as
  missed once its due time is before the report's time (`as_of`), which moves on at every refresh: the days count
  the running clocks, and the few not yet due are taken off, read from the facts by a partial index.
- Percentiles do not add up: the median and P90 times come from the facts of the period and groups asked (on
  PostgreSQL one `GROUP BY GROUPING SETS` statement for every grouping, `percentile_cont`; elsewhere a query per
  grouping, the same numbers by window functions), as do the disputes and their median turnaround.
"""
from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager
from datetime import date, datetime

from django.db import connection, transaction
from django.db.models import Count, F, Func, IntegerField, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from handoff.models import ClockStatus, ReportDay, ReportDispute, ReportFact
from handoff.models.reports import CLOCKS

from ..quality import period_bounds, report_zone
from .figures import RECYCLE_BUCKETS, TIMES, Figures
from .percentiles import PercentileCont, ordered_set_available, percentiles
from .scope import ReportQuery, ReportScope, fact_filter, group_expression, group_key

# What a day's row is keyed by, besides its day (ReportFact and ReportDay attnames alike).
DAY_KEYS = ("owner_id", "lead_source", "segment", "definition_id", "policy_id", "reject_reason_id")
# What a day's row adds up: the handoffs' outcomes (round 1), every round's clocks, the feedback.
SUMMED = ("handoffs", "accepted", "rejected", "converted", "recycled", "feedback_asked", "feedback_answered",
          "rating_sum", "rated", *RECYCLE_BUCKETS,
          *(f"{clock}_{state}" for clock in CLOCKS for state in ("met", "missed", "running")))


def day_counts() -> dict:
    """The aggregates of ReportFact rows that a ReportDay row holds, by its field names."""
    first = Q(round=1)
    found = {
        "handoffs": Count("pk", filter=first),
        "accepted": Count("pk", filter=Q(accepted=True)),
        "rejected": Count("pk", filter=Q(rejected=True)),
        "converted": Count("pk", filter=Q(converted=True)),
        "recycled": Count("pk", filter=Q(recycled=True)),
        "first": Count("pk", filter=first & Q(sequence=1)),
        "second": Count("pk", filter=first & Q(sequence=2)),
        "third": Count("pk", filter=first & Q(sequence=3)),
        "fourth_plus": Count("pk", filter=first & Q(sequence__gte=4)),
        **{name: Sum(name) for name in ("feedback_asked", "feedback_answered", "rating_sum", "rated")},
    }
    for clock in CLOCKS:
        status = f"{clock}_status"
        for state, value in (("met", ClockStatus.MET), ("missed", ClockStatus.MISSED),
                             ("running", ClockStatus.RUNNING)):
            found[f"{clock}_{state}"] = Count("pk", filter=Q(**{status: value}))
    return found


def _qualified_on():
    return TruncDate("qualified_at", tzinfo=report_zone())


def day_rows(facts: QuerySet, *, days: list[date] | None = None) -> QuerySet:
    """The facts counted per day of TIME_ZONE (`qualified_on`) and DAY_KEYS: the rows of ReportDay. `days`: only the
    facts of these days (None: all)."""
    if days is not None:
        facts = facts.filter(_on_days(days))
    return (
        facts.annotate(qualified_on=_qualified_on())
        .values("qualified_on", *DAY_KEYS)
        .annotate(**day_counts())
        .order_by()
    )


def _on_days(days: list[date]) -> Q:
    """The facts qualified on these days: one range of qualification times per run of consecutive days."""
    q = Q(pk__in=[])
    runs: list[list[date]] = []
    for day in sorted(set(days)):
        if runs and (day - runs[-1][1]).days == 1:
            runs[-1][1] = day
        else:
            runs.append([day, day])
    for first, last in runs:
        lo, hi = period_bounds(first, last)
        q |= Q(qualified_at__gte=lo, qualified_at__lt=hi)
    return q


@contextmanager
def tuned():
    """The report's reads in one transaction; on PostgreSQL with memory to sort in (no sort spilled to disk) and no
    JIT compilation, which costs a report query more than it saves (SET LOCAL: this transaction only)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:  # SET LOCAL both, in one round trip
                cursor.execute("SELECT set_config('jit', 'off', true), set_config('work_mem', '64MB', true)")
        yield


Found = dict[str | None, dict[object, Figures]]


def figures_by(
    scope: ReportScope, query: ReportQuery, groupings: list[str | None], as_of: datetime | None,
    *, grouping_sets: bool | None = None,
) -> Found:
    """grouping (None: the total) → group key → its Figures.

    The times and disputes come from one statement for every grouping on PostgreSQL (GROUP BY GROUPING SETS), or,
    elsewhere or with `grouping_sets=False`, a query per grouping. Both give the same figures (tests run both)."""
    return counted(scope, query, groupings, as_of, grouping_sets=grouping_sets)[0]


def counted(
    scope: ReportScope, query: ReportQuery, groupings: list[str | None], as_of: datetime | None,
    *, volumes: bool = False, grouping_sets: bool | None = None,
) -> tuple[Found, dict, dict]:
    """The figures of every grouping, the standing rejections by reason (id → count) and, with `volumes`, the MQLs
    by (week, team id, segment)."""
    found: Found = {grouping: {} for grouping in groupings}

    def figures(grouping, value) -> Figures:
        key = group_key(grouping, value) if grouping else None
        return found[grouping].setdefault(key, Figures(key or "", ""))

    named = [grouping for grouping in groupings if grouping is not None]
    # The counts, at the finest grain the report needs, added up into each grouping.
    grain = list(dict.fromkeys([*named, "reason", *(["week", "team", "segment"] if volumes else [])]))
    expressions = {name: group_expression(name, days=True) for name in grain if name != "reason"}
    expressions["reason"] = F("reject_reason_id")
    lo, hi = query.start, query.end
    days = ReportDay.objects.filter(fact_filter(scope, query, period=False), day__gte=lo, day__lte=hi)
    reasons: dict = defaultdict(int)
    volume: dict = defaultdict(int)
    rows = (
        days.annotate(**{f"by_{name}": expressions[name] for name in grain})
        .values(*(f"by_{name}" for name in grain))
        .annotate(**{name: Sum(name) for name in SUMMED})
        .order_by()
    )
    for row in rows:
        if as_of is not None:  # every running clock missed, until the ones not yet due are taken off below
            for clock in CLOCKS:
                row[f"{clock}_missed"] += row[f"{clock}_running"]
        for grouping in groupings:
            _add(figures(grouping, row[f"by_{grouping}"] if grouping else None), row)
        if row["rejected"]:
            reasons[row["by_reason"]] += row["rejected"]
        if volumes:
            volume[(group_key("week", row["by_week"]), row["by_team"], row["by_segment"])] += row["handoffs"]
    facts = ReportFact.objects.filter(fact_filter(scope, query))
    if as_of is not None and rows:
        _not_yet_due(facts, groupings, as_of, figures)
    if None in found and not found[None].get(None, Figures("", "")).handoffs:
        found[None].pop(None, None)
    sets = connection.vendor == "postgresql" if grouping_sets is None else grouping_sets
    _times(facts, groupings, figures, sets)
    _disputes(ReportDispute.objects.filter(fact_filter(scope, query)), groupings, figures, sets)
    return found, dict(reasons), dict(volume)


def _add(figures: Figures, row: dict) -> None:
    """Add a row of counts (of a finer group) to the figures of a group that contains it."""
    for name in ("handoffs", "accepted", "rejected", "converted", "recycled", "feedback_asked", "feedback_answered",
                 "rating_sum", "rated"):
        setattr(figures, name, getattr(figures, name) + row[name])
    for bucket in RECYCLE_BUCKETS:
        figures.recycle_counts[bucket] += row[bucket]
    for clock in CLOCKS:
        figures.met[clock] += row[f"{clock}_met"]
        figures.missed[clock] += row[f"{clock}_missed"]
    figures.rating = figures.rating_sum / figures.rated if figures.rated else None


def _waiting(clock: str, as_of: datetime) -> Q:
    """A clock running and not yet due at `as_of` (a partial index of the running clocks serves it; a running
    clock always has its due time)."""
    return Q(**{f"{clock}_status": ClockStatus.RUNNING, f"{clock}_due_at__gt": as_of})


def _not_yet_due(facts: QuerySet, groupings: list[str | None], as_of: datetime, figures) -> None:
    """Take the clocks still running and not yet due at `as_of` off the missed ones."""
    named = [grouping for grouping in groupings if grouping is not None]
    waiting = Q(pk__in=[])
    for clock in CLOCKS:
        waiting |= _waiting(clock, as_of)
    pending = {f"{clock}_waiting": Count("pk", filter=_waiting(clock, as_of)) for clock in CLOCKS}
    facts = facts.filter(waiting).annotate(**{f"by_{name}": group_expression(name) for name in named})
    rows = (
        facts.values(*(f"by_{name}" for name in named)).annotate(**pending).order_by()
        if named
        else [facts.aggregate(**pending)]
    )
    for row in rows:
        for grouping in groupings:
            target = figures(grouping, row[f"by_{grouping}"] if grouping else None)
            for clock in CLOCKS:
                target.missed[clock] -= row[f"{clock}_waiting"] or 0


def _times(facts: QuerySet, groupings: list[str | None], figures, sets: bool) -> None:
    """The median and P90 of each time, per group of each grouping: only the facts with a time."""
    timed = Q(pk__in=[])
    for _, column, _ in TIMES:
        timed |= Q(**{f"{column}__isnull": False})
    facts = facts.filter(timed)
    if sets:
        aggregates = {}
        for key, column, _ in TIMES:
            aggregates.update({f"{key}_n": Count(column), f"{key}_p50": PercentileCont(column, 0.5),
                               f"{key}_p90": PercentileCont(column, 0.9)})
        for grouped, values, row in _grouped(facts, groupings, aggregates):
            if grouped is None and not any(row[f"{key}_n"] for key, _, _ in TIMES):
                continue  # no time at all: no total made for it
            target = figures(grouped, values)
            target.times = {key: (row[f"{key}_n"], row[f"{key}_p50"], row[f"{key}_p90"]) for key, _, _ in TIMES}
        return
    for grouping in groupings:
        group = group_expression(grouping) if grouping else None
        for name, column, _ in TIMES:
            for value, (n, (median, p90)) in percentiles(facts, value=column, group=group,
                                                         window=not ordered_set_available()).items():
                figures(grouping, value).times[name] = (n, median, p90)


def _dispute_counts() -> dict:
    return {
        "raised": Count("pk"),
        "upheld": Count("pk", filter=Q(decision="uphold")),
        "overturned": Count("pk", filter=Q(decision="overturn")),
        "undecided": Count("pk", filter=Q(decision="")),
    }


def _disputes(disputes: QuerySet, groupings: list[str | None], figures, sets: bool) -> None:
    """Disputes raised, upheld, overturned, undecided, and the median business time to a decision, per group."""

    def counts(target: Figures, row: dict) -> None:
        target.disputes, target.upheld = row["raised"], row["upheld"]
        target.overturned, target.undecided = row["overturned"], row["undecided"]

    if sets:
        aggregates = {**_dispute_counts(), "decided": Count("business_seconds"),
                      "p50": PercentileCont("business_seconds", 0.5)}
        for grouped, values, row in _grouped(disputes, groupings, aggregates):
            if row["raised"]:
                target = figures(grouped, values)
                counts(target, row)
                target.decision_times = (row["decided"], row["p50"])
        return
    for grouping in groupings:
        group = group_expression(grouping) if grouping else None
        rows = (
            [{"g": None, **disputes.aggregate(**_dispute_counts())}]
            if group is None
            else disputes.annotate(g=group).values("g").annotate(**_dispute_counts()).order_by()
        )
        for row in rows:
            if row["raised"]:
                counts(figures(grouping, row["g"]), row)
        decided = disputes.filter(business_seconds__isnull=False)
        for value, (n, (median,)) in percentiles(decided, value="business_seconds", group=group, fractions=(0.5,),
                                                 window=not ordered_set_available()).items():
            figures(grouping, value).decision_times = (n, median)


class Grouping(Func):
    """`GROUPING(a, b, …)`: which grouping set a row of GROUP BY GROUPING SETS belongs to (a bit set for each
    argument rolled up, the first argument the highest bit)."""

    function = "GROUPING"
    output_field = IntegerField()
    contains_aggregate = True  # computed per group: never itself grouped by


def _grouped(queryset: QuerySet, groupings: list[str | None], aggregates: dict):
    """(the grouping, its key's value, the row of aggregates) for every group of every grouping (None: the total),
    in one statement: GROUP BY GROUPING SETS ((…), …) over the queryset; () is the total."""
    names = [grouping for grouping in groupings if grouping is not None]
    if not names:
        yield None, None, queryset.aggregate(**aggregates)
        return
    aliases = [f"by_{name}" for name in names]  # not a model field's name
    values = (
        queryset.annotate(**{alias: group_expression(name) for alias, name in zip(aliases, names, strict=True)})
        .values(*aliases)
        .annotate(**aggregates, sets=Grouping(*(F(alias) for alias in aliases)))
        .order_by()
    )
    sql, params = values.query.sql_with_params()
    head, found, tail = sql.rpartition(" GROUP BY ")
    if not found or any(clause in tail for clause in (" HAVING ", " ORDER BY ", " LIMIT ")):
        raise AssertionError(f"Unexpected GROUP BY for grouping sets: {tail}")
    placeholders = tail.count("%s")
    params = params[: len(params) - placeholders] if placeholders else params
    listed = ", ".join(f"({names.index(name) + 1})" if name else "()" for name in groupings)
    by_mask = {
        sum(1 << (len(names) - 1 - i) for i, name in enumerate(names) if name != grouping): grouping
        for grouping in groupings
    }
    with connection.cursor() as cursor:
        cursor.execute(f"{head} GROUP BY GROUPING SETS ({listed})", params)
        columns = [column[0] for column in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:
        grouping = by_mask[row["sets"]]
        yield grouping, row[f"by_{grouping}"] if grouping else None, row
