"""The figures of the manager reports, both sides of the agreement, per group, per week and in total.

Everything is counted from the report summary (`ReportFact`, `ReportDispute`, kept by the report job), set-based:
on PostgreSQL one statement per table for every grouping at once (GROUP BY GROUPING SETS), elsewhere one per grouping;
percentiles in the database.

How each figure is computed (the README says the same):
- handoffs: leads handed to sales (qualified) in the period, by the day they were qualified;
- accepted / rejected / converted / recycled: handoffs accepted; whose rejection stands (an overturned one does
  not); converted; recycled, each over the handoffs. Acceptance rate: accepted over decided (accepted + rejected);
- recycle counts: handoffs that are a lead's first qualification, its second (recycled once before), third, fourth
  or later: each handoff counted once;
- SLA attainment per milestone: clocks met in time over clocks due. Due = met in time + missed; missed = breached
  (flagged, met late, or ended after its due time) or still running past its due time when the summary was made.
  A running clock not yet due, a paused one and one that ended before it was due are neither. Every round counts
  (an overturned dispute starts fresh clocks);
- median and P90 business time to accept or reject, to the first touch and to the first connected touch: the
  business seconds the SLA clocks stored when met (paused time excluded), never wall-clock;
- disputes raised, upheld, overturned, still undecided, and the median business time to the decision;
- feedback asked (withdrawn requests left out), answered, coverage (answered over asked), average rating: the
  requests about the handoffs counted, with the handoff's group keys.
"""
from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count, F, Func, IntegerField, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from handoff.models import (
    ClockStatus,
    ReasonCode,
    ReportDispute,
    ReportFact,
    ReportRefresh,
    SlaPolicy,
    Team,
)
from handoff.models.reports import CLOCKS

from .percentiles import PercentileCont, ordered_set_available, percentiles
from .scope import (
    GROUPS,
    ReportQuery,
    ReportScope,
    fact_filter,
    group_expression,
    group_key,
)

# The times whose median and P90 are reported: (key, ReportFact field, label).
TIMES = (
    ("accept", "accept_seconds", "to accept or reject"),
    ("first_touch", "first_touch_seconds", "to first touch"),
    ("first_connect", "connect_seconds", "to first connect"),
)
CLOCK_LABELS = {"accept": "Accept or reject", "first_touch": "First touch", "follow_up": "Follow-up attempts"}
RECYCLE_BUCKETS = ("first", "second", "third", "fourth_plus")  # a lead's 1st, 2nd, 3rd, 4th+ qualification


def pct(part: int, whole: int) -> float | None:
    """A share in percent, one decimal (as every page, CSV and API answer shows it); None when there is no whole."""
    return round(100 * part / whole, 1) if whole else None


def hours(seconds: float | None) -> float | None:
    """Business seconds as hours, two decimals."""
    return None if seconds is None else round(seconds / 3600, 2)


@dataclass
class Figures:
    """The figures of one group (a rep, a team, a source, a segment, a week) or of the whole scope."""

    key: str
    label: str
    handoffs: int = 0
    accepted: int = 0
    rejected: int = 0
    converted: int = 0
    recycled: int = 0
    recycle_counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RECYCLE_BUCKETS, 0))
    met: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CLOCKS, 0))
    missed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CLOCKS, 0))
    # key → (n, median seconds, P90 seconds)
    times: dict[str, tuple[int, float | None, float | None]] = field(
        default_factory=lambda: {key: (0, None, None) for key, _, _ in TIMES}
    )
    disputes: int = 0
    upheld: int = 0
    overturned: int = 0
    undecided: int = 0
    decision_times: tuple[int, float | None] = (0, None)  # (n, median seconds)
    feedback_asked: int = 0
    feedback_answered: int = 0
    rating_sum: int = 0
    rated: int = 0
    rating: float | None = None
    min_acceptance_rate: Decimal | None = None

    @property
    def decided(self) -> int:
        return self.accepted + self.rejected

    def due(self, clock: str) -> int:
        return self.met[clock] + self.missed[clock]

    def attainment(self, clock: str) -> float | None:
        return pct(self.met[clock], self.due(clock))

    @property
    def acceptance_rate(self) -> float | None:
        return pct(self.accepted, self.decided)

    @property
    def acceptance_met(self) -> bool | None:
        """Marketing's side: the acceptance rate at or above the agreed minimum (None: no minimum, or no decision)."""
        if self.min_acceptance_rate is None or not self.decided:
            return None
        return self.accepted >= self.min_acceptance_rate * self.decided

    @property
    def coverage(self) -> float | None:
        return pct(self.feedback_answered, self.feedback_asked)

    @property
    def breaches(self) -> int:
        return sum(self.missed.values())

    def row(self) -> dict[str, object]:
        """Every figure by its column name, rounded as shown: what the pages, the CSV files and the API give."""
        row: dict[str, object] = {
            "key": self.key,
            "label": self.label,
            "handoffs": self.handoffs,
            "accepted": self.accepted,
            "accepted_pct": pct(self.accepted, self.handoffs),
            "rejected": self.rejected,
            "rejected_pct": pct(self.rejected, self.handoffs),
            "undecided": self.handoffs - self.decided,
            "converted": self.converted,
            "converted_pct": pct(self.converted, self.handoffs),
            "recycled": self.recycled,
            "recycled_pct": pct(self.recycled, self.handoffs),
        }
        for bucket in RECYCLE_BUCKETS:
            row[f"qualified_{bucket}"] = self.recycle_counts[bucket]
        for clock in CLOCKS:
            row[f"{clock}_met"] = self.met[clock]
            row[f"{clock}_due"] = self.due(clock)
            row[f"{clock}_missed"] = self.missed[clock]
            row[f"{clock}_attainment_pct"] = self.attainment(clock)
        row["breaches"] = self.breaches
        for key, _, _ in TIMES:
            n, median, p90 = self.times[key]
            row[f"{key}_n"] = n
            row[f"{key}_median_h"] = hours(median)
            row[f"{key}_p90_h"] = hours(p90)
        row.update(
            disputes=self.disputes,
            disputes_upheld=self.upheld,
            disputes_overturned=self.overturned,
            disputes_undecided=self.undecided,
            dispute_decision_median_h=hours(self.decision_times[1]),
            decided=self.decided,
            acceptance_rate_pct=self.acceptance_rate,
            acceptance_met=self.acceptance_met,
            feedback_asked=self.feedback_asked,
            feedback_answered=self.feedback_answered,
            feedback_coverage_pct=self.coverage,
            average_rating=None if self.rating is None else round(self.rating, 2),
        )
        return row


def _row_fields() -> dict[str, str]:
    """Each column of `Figures.row()` and its kind: text, count, pct (one decimal), hours (two), rating, yes/no."""
    fields = {"key": "text", "label": "text"}
    for name in ("handoffs", "accepted", "rejected", "undecided", "converted", "recycled"):
        fields[name] = "count"
        if name != "handoffs" and name != "undecided":
            fields[f"{name}_pct"] = "pct"
    for bucket in RECYCLE_BUCKETS:
        fields[f"qualified_{bucket}"] = "count"
    for clock in CLOCKS:
        fields.update({f"{clock}_met": "count", f"{clock}_due": "count", f"{clock}_missed": "count",
                       f"{clock}_attainment_pct": "pct"})
    fields["breaches"] = "count"
    for key, _, _ in TIMES:
        fields.update({f"{key}_n": "count", f"{key}_median_h": "hours", f"{key}_p90_h": "hours"})
    fields.update(
        disputes="count", disputes_upheld="count", disputes_overturned="count", disputes_undecided="count",
        dispute_decision_median_h="hours", decided="count", acceptance_rate_pct="pct", acceptance_met="yes/no",
        feedback_asked="count", feedback_answered="count", feedback_coverage_pct="pct", average_rating="rating",
    )
    return fields


ROW_FIELDS = _row_fields()


@dataclass
class Reason:
    code: str
    label: str
    count: int
    share: float | None
    cumulative: float | None


@dataclass
class TargetWeek:
    week: date
    mqls: int
    met: bool


@dataclass
class Target:
    """One entry of the SLA policy's `mql_targets`: an MQL volume a week, for a team and/or segment (or all)."""

    team: str
    segment: str
    per_week: int
    weeks: list[TargetWeek]

    @property
    def weeks_met(self) -> int:
        return sum(1 for w in self.weeks if w.met)

    @property
    def label(self) -> str:
        return " · ".join(part for part in (self.team or "All teams", self.segment or "every segment"))


@dataclass
class Report:
    query: ReportQuery
    scope: ReportScope
    as_of: datetime | None  # the summary's time: a clock running then counts as missed once due by then
    groups: list[Figures]
    total: Figures
    weeks: list[Figures]
    reasons: list[Reason]
    targets: list[Target]
    policy: SlaPolicy | None  # whose targets and minimum acceptance rate apply

    @property
    def group_label(self) -> str:
        return GROUPS[self.query.group_by]

    @property
    def empty(self) -> bool:
        return not self.total.handoffs


def summary_as_of() -> datetime | None:
    """When the report summary was last refreshed (None: never yet)."""
    return ReportRefresh.objects.values_list("refreshed_at", flat=True).order_by("pk").first()


def terms_policy(query: ReportQuery) -> SlaPolicy | None:
    """The SLA policy whose marketing terms the report holds the figures against: the filtered version, else the
    active one."""
    if query.policy_version is not None:
        return SlaPolicy.objects.filter(version=query.policy_version).first()
    return SlaPolicy.objects.filter(is_active=True).first()


def report(*, scope: ReportScope, query: ReportQuery, as_of: datetime | None = None) -> Report:
    """The report for the reader's scope and the query: its groups, total, weekly trend, reasons and targets."""
    as_of = as_of or summary_as_of()
    policy = terms_policy(query)
    minimum = policy.min_acceptance_rate if policy is not None else None
    entries = _target_entries(scope, query, policy)
    groupings = [query.group_by, None] if query.group_by == "week" else [query.group_by, "week", None]
    with tuned():
        if connection.vendor == "postgresql":
            # The volumes of the targets count with the report's own filters only when it has none of its own.
            together = bool(entries) and _targets_count_as_the_report(scope, query)
            found, counted, volumes = _in_sets(scope, query, groupings, as_of, volumes=together)
            if entries and not together:
                volumes = _target_volumes(scope, query)
        else:
            found = figures_by(scope, query, groupings, as_of)
            facts = ReportFact.objects.filter(fact_filter(scope, query))
            counted = dict(
                facts.filter(rejected=True).values("reject_reason_id").annotate(n=Count("pk")).values_list(
                    "reject_reason_id", "n").order_by()
            )
            volumes = _target_volumes(scope, query) if entries else {}
    total = found[None].get(None) or Figures("", "All")
    total.key, total.label = "", "All"
    groups = _labelled(query.group_by, found[query.group_by])
    weeks = []
    for monday in query.weeks:
        weeks.append(found["week"].get(monday.isoformat()) or Figures(monday.isoformat(), ""))
    _label_weeks(weeks)
    for figures in [total, *groups, *weeks]:
        figures.min_acceptance_rate = minimum
    return Report(
        query=query,
        scope=scope,
        as_of=as_of,
        groups=groups,
        total=total,
        weeks=weeks,
        reasons=_reasons(counted),
        targets=_targets(entries, volumes, query),
        policy=policy,
    )


def report_total(*, scope: ReportScope, query: ReportQuery, as_of: datetime | None = None) -> Figures:
    """Only the total of the report (the "My SLA" card, the weekly mail, the relationship page)."""
    as_of = as_of or summary_as_of()
    with tuned():
        total = figures_by(scope, query, [None], as_of)[None].get(None) or Figures("", "All")
    total.key, total.label = "", "All"
    policy = terms_policy(query)
    total.min_acceptance_rate = policy.min_acceptance_rate if policy is not None else None
    return total


@contextmanager
def tuned():
    """The report's reads in one transaction; on PostgreSQL with memory to sort in (no sort spilled to disk) and no
    JIT compilation, which costs a report query more than it saves (SET LOCAL: this transaction only)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
                cursor.execute("SET LOCAL work_mem = '64MB'")
        yield


def figures_by(
    scope: ReportScope, query: ReportQuery, groupings: list[str | None], as_of: datetime | None,
    *, grouping_sets: bool | None = None,
) -> dict[str | None, dict[object, Figures]]:
    """grouping (None: the total) → group key → its Figures.

    PostgreSQL reads each table once for every grouping (GROUP BY GROUPING SETS); elsewhere, or with
    `grouping_sets=False`, one query per grouping. Both give the same figures (tests run both).
    """
    if not (connection.vendor == "postgresql" if grouping_sets is None else grouping_sets):
        facts = ReportFact.objects.filter(fact_filter(scope, query))
        return {grouping: _figures(scope, query, facts, grouping, as_of) for grouping in groupings}
    return _in_sets(scope, query, groupings, as_of)[0]


def _in_sets(
    scope: ReportScope, query: ReportQuery, groupings: list[str | None], as_of: datetime | None,
    *, volumes: bool = False,
) -> tuple[dict[str | None, dict[object, Figures]], dict, dict]:
    """PostgreSQL: the figures of every grouping, the standing rejections by reason and (`volumes`) the MQLs by
    week, team and segment, in three statements.

    The counts add up, so they are counted once at the finest grain (a plain GROUP BY, which PostgreSQL runs in
    parallel) and summed here into each grouping; percentiles do not, so the times come from one GROUP BY GROUPING
    SETS, as do the disputes.
    """
    facts = ReportFact.objects.filter(fact_filter(scope, query))
    found: dict[str | None, dict[object, Figures]] = {grouping: {} for grouping in groupings}

    def figures(grouping, value) -> Figures:
        key = group_key(grouping, value) if grouping else None
        return found[grouping].setdefault(key, Figures(key or "", ""))

    expressions = {name: group_expression(name) for name in ("rep", "team", "source", "segment", "week")}
    named = [grouping for grouping in groupings if grouping is not None]
    grain = list(dict.fromkeys([*named, "reason", *(["week", "team", "segment"] if volumes else [])]))
    expressions["reason"] = F("reject_reason_id")
    counted: dict = defaultdict(int)
    volume: dict = defaultdict(int)
    rows = (
        facts.annotate(**{f"by_{name}": expressions[name] for name in grain})
        .values(*(f"by_{name}" for name in grain))
        .annotate(**_counts(as_of))
        .order_by()
    )
    for row in rows:
        for grouping in groupings:
            _add(figures(grouping, row[f"by_{grouping}"] if grouping else None), row)
        if row["rejected"]:
            counted[row["by_reason"]] += row["rejected"]
        if volumes:
            volume[(group_key("week", row["by_week"]), row["by_team"], row["by_segment"])] += row["handoffs"]
    if None in found and not found[None].get(None, Figures("", "")).handoffs:
        found[None].pop(None, None)
    sets = [(name,) if name is not None else () for name in groupings]
    times = {}
    for key, column, _ in TIMES:
        times.update({f"{key}_n": Count(column), f"{key}_p50": PercentileCont(column, 0.5),
                      f"{key}_p90": PercentileCont(column, 0.9)})
    for grouped, values, row in _grouped(facts, sets, expressions, times):
        if grouped or any(row[f"{key}_n"] for key, _, _ in TIMES):
            target = figures(grouped[0] if grouped else None, values.get(grouped[0]) if grouped else None)
            target.times = {key: (row[f"{key}_n"], row[f"{key}_p50"], row[f"{key}_p90"]) for key, _, _ in TIMES}
    disputes = ReportDispute.objects.filter(fact_filter(scope, query))
    decided = {**_dispute_counts(), "decided": Count("business_seconds"),
               "p50": PercentileCont("business_seconds", 0.5)}
    for grouped, values, row in _grouped(disputes, sets, expressions, decided):
        if row["raised"]:
            target = figures(grouped[0] if grouped else None, values.get(grouped[0]) if grouped else None)
            target.disputes, target.upheld = row["raised"], row["upheld"]
            target.overturned, target.undecided = row["overturned"], row["undecided"]
            target.decision_times = (row["decided"], row["p50"])
    return found, dict(counted), dict(volume)


class Grouping(Func):
    """`GROUPING(a, b, …)`: which grouping set a row of GROUP BY GROUPING SETS belongs to (a bit set for each
    argument rolled up, the first argument the highest bit)."""

    function = "GROUPING"
    output_field = IntegerField()
    contains_aggregate = True  # computed per group: never itself grouped by


def _grouped(queryset: QuerySet, sets: list[tuple[str, ...]], expressions: dict, aggregates: dict):
    """(the grouping set, its keys' values, the row of aggregates) for every group of every set, in one statement:
    GROUP BY GROUPING SETS ((…), …) over the queryset; () is the total."""
    names = list(dict.fromkeys(name for grouped in sets for name in grouped))
    if not names:
        yield (), {}, queryset.aggregate(**aggregates)
        return
    aliases = [f"by_{name}" for name in names]  # not a model field's name
    values = (
        queryset.annotate(**{alias: expressions[name] for alias, name in zip(aliases, names, strict=True)})
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
    listed = ", ".join("(" + ", ".join(str(names.index(name) + 1) for name in grouped) + ")" for grouped in sets)
    by_mask = {
        sum(1 << (len(names) - 1 - i) for i, name in enumerate(names) if name not in grouped): grouped
        for grouped in sets
    }
    with connection.cursor() as cursor:
        cursor.execute(f"{head} GROUP BY GROUPING SETS ({listed})", params)
        columns = [column[0] for column in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:
        grouped = by_mask[row["sets"]]
        yield grouped, {name: row[f"by_{name}"] for name in grouped}, row


_SUMMED = ("handoffs", "accepted", "rejected", "converted", "recycled", "feedback_asked", "feedback_answered")


def _add(figures: Figures, row: dict) -> None:
    """Add a row of counts (of a finer group) to the figures of a group that contains it."""
    for name in _SUMMED:
        setattr(figures, name, getattr(figures, name) + row[name])
    for bucket in RECYCLE_BUCKETS:
        figures.recycle_counts[bucket] += row[bucket]
    for clock in CLOCKS:
        figures.met[clock] += row[f"{clock}_met"]
        figures.missed[clock] += row[f"{clock}_missed"]
    figures.rating_sum += row["rating_sum"]
    figures.rated += row["rated"]
    figures.rating = figures.rating_sum / figures.rated if figures.rated else None


def _fill(figures: Figures, row: dict) -> None:
    for name in _SUMMED:
        setattr(figures, name, row[name])
    figures.rating_sum, figures.rated = row["rating_sum"], row["rated"]
    figures.recycle_counts = {bucket: row[bucket] for bucket in RECYCLE_BUCKETS}
    figures.met = {clock: row[f"{clock}_met"] for clock in CLOCKS}
    figures.missed = {clock: row[f"{clock}_missed"] for clock in CLOCKS}
    figures.rating = row["rating_sum"] / row["rated"] if row["rated"] else None


def _dispute_counts() -> dict:
    return {
        "raised": Count("pk"),
        "upheld": Count("pk", filter=Q(decision="uphold")),
        "overturned": Count("pk", filter=Q(decision="overturn")),
        "undecided": Count("pk", filter=Q(decision="")),
    }


def _counts(as_of: datetime | None) -> dict:
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
        **{name: Coalesce(Sum(name), 0) for name in ("feedback_asked", "feedback_answered", "rating_sum", "rated")},
    }
    for clock in CLOCKS:
        status = f"{clock}_status"
        missed = Q(**{status: ClockStatus.MISSED})
        if as_of is not None:
            missed |= Q(**{status: ClockStatus.RUNNING, f"{clock}_due_at__lte": as_of})
        found[f"{clock}_met"] = Count("pk", filter=Q(**{status: ClockStatus.MET}))
        found[f"{clock}_missed"] = Count("pk", filter=missed)
    return found


def _figures(
    scope: ReportScope, query: ReportQuery, facts: QuerySet, group_by: str | None, as_of: datetime | None
) -> dict[object, Figures]:
    """Figures per group key ("" for no value; None when not grouped) of one grouping, a query per table: the
    summary's counts (and times: in the database's own way), the disputes, the feedback."""
    group = group_expression(group_by) if group_by else None
    annotations = _counts(as_of)
    in_sql = ordered_set_available()
    if in_sql:
        for key, column, _ in TIMES:
            annotations[f"{key}_n"] = Count(column)
            annotations[f"{key}_p50"] = PercentileCont(column, 0.5)
            annotations[f"{key}_p90"] = PercentileCont(column, 0.9)
    if group is None:
        rows = [{"g": None, **facts.aggregate(**annotations)}]
    else:
        rows = facts.annotate(g=group).values("g").annotate(**annotations).order_by()
    found: dict[object, Figures] = {}
    for row in rows:
        key = group_key(group_by, row["g"]) if group_by else None
        figures = found[key] = Figures(key or "", "")
        _fill(figures, row)
        if in_sql:
            figures.times = {key_: (row[f"{key_}_n"], row[f"{key_}_p50"], row[f"{key_}_p90"]) for key_, _, _ in TIMES}
    if not in_sql:
        for name, column, _ in TIMES:
            for value, (n, (median, p90)) in percentiles(facts, value=column, group=group).items():
                key = group_key(group_by, value) if group_by else None
                found.setdefault(key, Figures(key or "", "")).times[name] = (n, median, p90)
    _disputes(scope, query, group_by, found)
    return found


def _disputes(scope: ReportScope, query: ReportQuery, group_by: str | None, found: dict) -> None:
    disputes = ReportDispute.objects.filter(fact_filter(scope, query))
    group = group_expression(group_by) if group_by else None
    counts = _dispute_counts()
    rows = (
        [{"g": None, **disputes.aggregate(**counts)}]
        if group is None
        else disputes.annotate(g=group).values("g").annotate(**counts).order_by()
    )
    for row in rows:
        if row["raised"]:
            key = group_key(group_by, row["g"]) if group_by else None
            figures = found.setdefault(key, Figures(key or "", ""))
            figures.disputes, figures.upheld = row["raised"], row["upheld"]
            figures.overturned, figures.undecided = row["overturned"], row["undecided"]
    decided = disputes.filter(business_seconds__isnull=False)
    for value, (n, (median,)) in percentiles(decided, value="business_seconds", group=group,
                                             fractions=(0.5,)).items():
        key = group_key(group_by, value) if group_by else None
        found.setdefault(key, Figures(key or "", "")).decision_times = (n, median)


# ---------------------------------------------------------------------------------------------
# Labels
# ---------------------------------------------------------------------------------------------
NO_VALUE = {"rep": "Team queue", "team": "No team (queue)", "source": "No source", "segment": "No SLA clock"}


def _labelled(group_by: str, rows: dict[object, Figures]) -> list[Figures]:
    if group_by == "week":
        weeks = sorted(rows.values(), key=lambda f: f.key)
        _label_weeks(weeks)
        return weeks
    names: dict[str, str] = {}
    ids = [int(key) for key in rows if key] if group_by in ("rep", "team") else []
    if group_by == "rep":
        for user in get_user_model().objects.filter(pk__in=ids):
            names[str(user.pk)] = user.get_full_name() or user.get_username()
    elif group_by == "team":
        names = {str(pk): name for pk, name in Team.objects.filter(pk__in=ids).values_list("pk", "name")}
    for key, figures in rows.items():
        figures.label = names.get(key, key) if key else NO_VALUE[group_by]
    ordered = sorted(rows.values(), key=lambda f: (not f.key, f.label.lower()))
    if group_by == "source":
        ordered.sort(key=lambda f: (not f.key, -f.handoffs, f.label.lower()))
    return ordered


def _label_weeks(weeks: list[Figures]) -> None:
    for figures in weeks:
        monday = date.fromisoformat(figures.key)
        figures.label = f"Week of {monday:%b} {monday.day}, {monday.year}"


# ---------------------------------------------------------------------------------------------
# Rejection reasons, and marketing's volume targets
# ---------------------------------------------------------------------------------------------
def _reasons(counted: dict) -> list[Reason]:
    """Why handoffs were rejected (the rejections that stand: reason id → count), most given first, with the running
    share: a Pareto."""
    codes = ReasonCode.objects.in_bulk([pk for pk in counted if pk is not None])
    rows = sorted(
        ((codes.get(pk), n) for pk, n in counted.items()),
        key=lambda item: (-item[1], item[0] is None, item[0].label if item[0] else ""),
    )
    total = sum(counted.values())
    found, running = [], 0
    for code, n in rows:
        running += n
        found.append(
            Reason(
                code=code.code if code else "",
                label=code.label if code else "No reason recorded",
                count=n,
                share=pct(n, total),
                cumulative=pct(running, total),
            )
        )
    return found


def parse_targets(raw) -> list[tuple[str, str, int]]:
    """(team name, segment, MQLs a week) of each well-formed `mql_targets` entry ("" = any team / segment)."""
    found = []
    for entry in raw if isinstance(raw, list) else []:
        if not isinstance(entry, dict):
            continue
        per_week = entry.get("per_week")
        if isinstance(per_week, bool) or not isinstance(per_week, int) or per_week <= 0:
            continue
        team, segment = entry.get("team") or "", entry.get("segment") or ""
        if isinstance(team, str) and isinstance(segment, str):
            found.append((team, segment, per_week))
    return found


def volume_targets(scope: ReportScope, query: ReportQuery, policy: SlaPolicy | None) -> list[Target]:
    """Marketing's side: MQLs handed over each week of the period against each target of the policy.

    A target counts every lead of its team and segment (every team, every segment when it names none) handed over
    that week, whatever the report's other filters; a reader sees the targets of the teams they see, and the
    organisation's only when they see every team.
    """
    entries = _target_entries(scope, query, policy)
    return _targets(entries, _target_volumes(scope, query) if entries else {}, query)


def _target_entries(scope: ReportScope, query: ReportQuery, policy: SlaPolicy | None) -> list[tuple]:
    """(team name, segment, per week, team id) of the policy's targets this reader and query show (none for one
    rep's own figures: a target is a team's, or every team's)."""
    entries = parse_targets(policy.mql_targets) if policy is not None and query.rep is None else []
    if not entries:
        return []
    teams = dict(Team.objects.values_list("name", "pk"))
    shown = []
    for team, segment, per_week in entries:
        team_id = teams.get(team) if team else None
        if team and team_id is None:
            continue  # a target for a team that does not exist (any more)
        if scope.team_ids is not None and (team_id is None or team_id not in scope.team_ids):
            continue
        if query.team is not None and team_id is not None and team_id != query.team:
            continue
        shown.append((team, segment, per_week, team_id))
    return shown


def _targets_count_as_the_report(scope: ReportScope, query: ReportQuery) -> bool:
    """Whether the targets' volumes are counted over the report's own rows: no filter narrows it."""
    narrowed = any(value is not None for value in (query.team, query.rep, query.source, query.segment,
                                                   query.definition_version, query.policy_version))
    return not narrowed and (query.group_by != "rep" or scope.rep_team_ids is None)


def _target_volumes(scope: ReportScope, query: ReportQuery) -> dict[tuple[str, object, str], int]:
    """MQLs by (week, team id, segment) in the period, of every team the reader sees."""
    lo, hi = query.bounds
    mine = Q() if scope.team_ids is None else Q(owner__profile__team_id__in=sorted(scope.team_ids))
    counted = (
        ReportFact.objects.filter(mine, round=1, qualified_at__gte=lo, qualified_at__lt=hi)
        .annotate(g=group_expression("week"))
        .values("g", "owner__profile__team_id", "segment")
        .annotate(n=Count("pk"))
        .order_by()
    )
    volume: dict[tuple[str, object, str], int] = defaultdict(int)
    for row in counted:
        volume[(group_key("week", row["g"]), row["owner__profile__team_id"], row["segment"])] += row["n"]
    return dict(volume)


def _targets(entries: list[tuple], volume: dict, query: ReportQuery) -> list[Target]:
    targets = []
    for team, segment, per_week, team_id in entries:
        weeks = []
        for monday in query.weeks:
            n = sum(
                count
                for (week, team_of, segment_of), count in volume.items()
                if week == monday.isoformat()
                and (team_id is None or team_of == team_id)
                and (not segment or segment_of == segment)
            )
            weeks.append(TargetWeek(week=monday, mqls=n, met=n >= per_week))
        targets.append(Target(team=team, segment=segment, per_week=per_week, weeks=weeks))
    return targets
