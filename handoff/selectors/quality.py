"""Lead quality for marketing: what sales said about the leads handed over in a period, by lead source, SLA segment,
lead definition version and week, and the requests behind every figure.

The report reads the tallies the feedback services keep per day handed over, lead source, segment and definition
(a few thousand rows for half a year), never the requests themselves; days and weeks are dates of TIME_ZONE, the
organisation's zone, so every reader sees the same weeks. The list behind a figure reads the requests.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import QuerySet, Sum
from django.db.models.functions import TruncWeek

from handoff.models import (
    FeedbackOutcome,
    FeedbackReasonTally,
    FeedbackRequest,
    FeedbackTally,
    LeadDefinition,
    ReasonCode,
)

from .feedback import with_feedback_detail

RATINGS = (1, 2, 3, 4, 5)
TOP = 5  # reasons shown per row
FEW = 10  # fewer ratings than this: an average to read with care


@dataclass
class QualityRow:
    """The figures of one group of requests (one source, one segment, one definition version, one week, or all)."""

    dimension: str  # the filter parameter that selects this group in the list behind the figures ("" for all)
    key: str  # its value
    label: str
    asked: int = 0  # requests, withdrawn ones left out
    answered: int = 0
    expired: int = 0
    pending: int = 0
    ratings: list[int] = field(default_factory=lambda: [0] * len(RATINGS))
    reasons: Counter = field(default_factory=Counter)  # feedback reason id → times given
    rejects: Counter = field(default_factory=Counter)  # reject reason id → times
    worse_than: QualityRow | None = None  # definitions: the earlier version whose leads rated better

    @property
    def rated(self) -> int:
        return sum(self.ratings)

    @property
    def average(self) -> float | None:
        rated = self.rated
        return sum(r * n for r, n in zip(RATINGS, self.ratings, strict=True)) / rated if rated else None

    @property
    def coverage(self) -> float | None:
        """Share of the requests answered (expired and still pending ones count as not given)."""
        return self.answered / self.asked if self.asked else None

    @property
    def few(self) -> bool:
        return 0 < self.rated < FEW

    @property
    def distribution(self) -> list[tuple[int, int, float]]:
        """(rating, count, share of the ratings) for 1–5."""
        rated = self.rated
        return [(r, n, n / rated if rated else 0.0) for r, n in zip(RATINGS, self.ratings, strict=True)]

    # Filled by `lead_quality`: the most given reasons, (ReasonCode, times) each.
    top_reasons: list = field(default_factory=list)  # quality reasons
    top_signals: list = field(default_factory=list)  # market signals
    top_rejects: list = field(default_factory=list)  # reject reasons

    @property
    def query(self) -> str:
        """This group as the query string of the list behind its figures ("" for all leads)."""
        return urlencode({self.dimension: self.key}) if self.dimension else ""


@dataclass
class QualityReport:
    start: date
    end: date  # inclusive
    total: QualityRow
    by_source: list[QualityRow]
    by_segment: list[QualityRow]
    by_definition: list[QualityRow]
    by_week: list[QualityRow]
    reasons: dict[int, ReasonCode]

    @property
    def worse_definitions(self) -> list[QualityRow]:
        return [row for row in self.by_definition if row.worse_than is not None]


def _top(counts: Counter, reasons: dict[int, ReasonCode], signals: bool | None = None) -> list:
    """The most given reasons: quality reasons (signals=False), market signals (True), or any (None)."""
    found = [
        (reasons[pk], n)
        for pk, n in sorted(counts.items(), key=lambda item: (-item[1], reasons[item[0]].label if item[0] in reasons
                                                              else ""))
        if pk in reasons and (signals is None or reasons[pk].is_market_signal == signals)
    ]
    return found[:TOP]


def report_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def report_day(moment: datetime) -> date:
    """The day a lead handed over at `moment` counts for in the report."""
    return moment.astimezone(report_zone()).date()


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[first instant of `start`, first instant after `end`), days of the report's zone."""
    zone = report_zone()
    return (
        datetime.combine(start, datetime.min.time(), tzinfo=zone),
        datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=zone),
    )


def lead_quality(*, start: date, end: date) -> QualityReport:
    """The lead quality report of the leads handed over from `start` to `end` (both days included)."""
    rows: dict[tuple[str, object], QualityRow] = {}
    total = QualityRow("", "", "All leads")

    def touched(week: date, source: str, segment: str, definition: int) -> list[QualityRow]:
        found = [total]
        for dimension, value in (("source", source), ("segment", segment), ("definition", definition),
                                 ("week", week)):
            row = rows.get((dimension, value))
            if row is None:
                row = rows[(dimension, value)] = QualityRow(dimension, _key(value), "")
            found.append(row)
        return found

    # Summed by week in the database: a row per week and group instead of one per day.
    group = ("week", "lead_source", "segment", "definition_id")
    counts = FeedbackTally.COUNTS
    weekly = (
        FeedbackTally.objects.filter(day__gte=start, day__lte=end)
        .annotate(week=TruncWeek("day"))
        .values(*group)
        .annotate(**{f"sum_{name}": Sum(name) for name in counts})
        .values_list(*group, *(f"sum_{name}" for name in counts))
        .order_by()
    )
    for item in weekly:
        pending, answered, expired, *ratings = item[4:]
        for row in touched(*item[:4]):
            row.asked += pending + answered + expired
            row.pending += pending
            row.answered += answered
            row.expired += expired
            row.ratings = [mine + more for mine, more in zip(row.ratings, ratings, strict=True)]
    given = list(
        FeedbackReasonTally.objects.filter(day__gte=start, day__lte=end)
        .annotate(week=TruncWeek("day"))
        .values(*group, "reason_id")
        .annotate(n=Sum("given"))
        .filter(n__gt=0)
        .values_list(*group, "reason_id", "n")
        .order_by()
    )
    codes = ReasonCode.objects.in_bulk({item[4] for item in given})
    for *key, reason_id, n in given:
        counter = "rejects" if codes[reason_id].kind == ReasonCode.Kind.REJECT else "reasons"
        for row in touched(*key):
            getattr(row, counter)[reason_id] += n

    versions = dict(
        LeadDefinition.objects.filter(
            pk__in=[value for (dimension, value) in rows if dimension == "definition"]
        ).values_list("pk", "version")
    )
    by: dict[str, list[QualityRow]] = defaultdict(list)
    for (dimension, value), row in rows.items():
        if dimension == "definition":
            row.key, row.label = str(versions.get(value, "")), f"v{versions.get(value, '?')}"
        elif dimension == "week":
            row.label = f"Week of {value:%b} {value.day}, {value.year}"
        else:
            row.label = value or ("No source" if dimension == "source" else "No SLA segment")
        by[dimension].append(row)
    by["source"].sort(key=lambda r: (-r.asked, r.label))
    by["segment"].sort(key=lambda r: (-r.asked, r.label))
    by["definition"].sort(key=lambda r: int(r.key or 0))
    by["week"].sort(key=lambda r: r.key)
    _call_out_worse_definitions(by["definition"])
    for row in [total, *rows.values()]:
        row.top_reasons = _top(row.reasons, codes, signals=False)
        row.top_signals = _top(row.reasons, codes, signals=True)
        row.top_rejects = _top(row.rejects, codes)
    return QualityReport(
        start=start,
        end=end,
        total=total,
        by_source=by["source"],
        by_segment=by["segment"],
        by_definition=by["definition"],
        by_week=by["week"],
        reasons=codes,
    )


def _key(value) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _call_out_worse_definitions(rows: list[QualityRow]) -> None:
    """A version whose leads rate worse on average than the version before it (the nearest earlier one rated)."""
    previous = None
    for row in rows:
        if row.average is None:
            continue
        if previous is not None and row.average < previous.average:
            row.worse_than = previous
        previous = row


# ---------------------------------------------------------------------------------------------
# The requests behind a figure
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QualityFilter:
    """Which requests a figure of the report stands for. None: not filtered on that."""

    start: date
    end: date
    source: str | None = None
    segment: str | None = None
    definition: int | None = None  # the version number
    week: date | None = None  # its Monday
    rating: int | None = None
    reason: str | None = None  # a feedback reason code (quality reason or market signal)
    reject_reason: str | None = None
    outcome: str | None = None


def quality_requests(selected: QualityFilter) -> QuerySet[FeedbackRequest]:
    """The requests (with their feedback) a figure of the report counts, newest hand-over first."""
    lo, hi = period_bounds(selected.start, selected.end)
    requests = FeedbackRequest.objects.filter(qualified_at__gte=lo, qualified_at__lt=hi).exclude(
        outcome=FeedbackOutcome.WITHDRAWN
    )
    if selected.source is not None:
        requests = requests.filter(lead_source=selected.source)
    if selected.segment is not None:
        requests = requests.filter(segment=selected.segment)
    if selected.definition is not None:
        requests = requests.filter(definition__version=selected.definition)
    if selected.week is not None:
        week_lo, week_hi = period_bounds(selected.week, selected.week + timedelta(days=6))
        requests = requests.filter(qualified_at__gte=week_lo, qualified_at__lt=week_hi)
    if selected.rating is not None:
        requests = requests.filter(feedback__rating=selected.rating)
    if selected.reason is not None:
        requests = requests.filter(
            feedback__reasons__kind=ReasonCode.Kind.FEEDBACK, feedback__reasons__code=selected.reason
        )
    if selected.reject_reason is not None:
        requests = requests.filter(
            reject_reason__kind=ReasonCode.Kind.REJECT, reject_reason__code=selected.reject_reason
        )
    if selected.outcome is not None:
        requests = requests.filter(outcome=selected.outcome)
    return with_feedback_detail(
        requests.select_related("handoff__lead", "rater", "reject_reason", "definition", "feedback").order_by(
            "-qualified_at", "-id"
        )
    )
