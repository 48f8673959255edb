"""What the manager reports hold: the figures of both sides of the agreement for one group (a rep, a team, a
source, a segment, a week) or the whole scope, and the report made of them. `counts` reads them from the summary,
`marketing` adds marketing's targets and the rejection reasons, `summary` puts a report together (and caches it).

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

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from handoff.models import SlaPolicy
from handoff.models.reports import CLOCKS

from .scope import GROUPS, ReportQuery, ReportScope

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
