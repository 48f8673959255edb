"""Where the relationship stands: the organisation, or one team, on Kotler, Rackham & Krishnaswamy's scale
(undefined, defined, aligned, integrated; HBR 2006), placed from live evidence.

Each criterion has its value, its threshold (a setting; the page states the defaults), a link to the data behind it
and, when it is not met, the article's recommendation in one line. A level is reached when its criteria and those of
every level below are met.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q
from django.urls import reverse

from handoff.models import Handoff, LeadDefinition, ReportFact

from .figures import Figures, pct
from .marketing import terms_policy, volume_targets
from .scope import ReportQuery, ReportScope, fact_filter, week_of
from .summary import report_total, summary_as_of

LEVELS = ("undefined", "defined", "aligned", "integrated")
LEVEL_TEXT = {
    "undefined": "Undefined: each side works on its own tasks; meetings are about conflicts.",
    "defined": "Defined: rules prevent disputes: one lead definition, clear handoff points, a reason for every "
    "rejection.",
    "aligned": "Aligned: both sides keep their side of the agreement and sales' feedback flows back to marketing.",
    "integrated": "Integrated: shared planning and metrics: volume targets met, and the funnel works both ways.",
}

# Setting name → (default, what it is); the page lists them.
THRESHOLDS = {
    "REPORT_RELATIONSHIP_WEEKS": (4, "weeks of evidence (the last whole weeks and this one)"),
    "REPORT_SLA_ATTAINMENT_MIN": (90, "% of sales' accept and first-touch clocks met in time"),
    "REPORT_FEEDBACK_COVERAGE_MIN": (50, "% of feedback requests answered"),
    "REPORT_DISPUTE_HOURS_MAX": (16, "business hours, median, from a dispute to its decision"),
    "REPORT_TARGET_WEEKS_MIN": (75, "% of the weeks with every MQL volume target met"),
    "REPORT_RECYCLED_BACK_MIN": (10, "% of recycled leads back as MQLs"),
    "REPORT_RECYCLED_BACK_WEEKS": (26, "weeks in which recycled leads are looked at"),
}


def threshold(name: str) -> int:
    return getattr(settings, name, THRESHOLDS[name][0])


@dataclass
class Criterion:
    key: str
    level: str  # the level it belongs to: defined, aligned or integrated
    title: str
    value: str
    threshold: str
    met: bool
    link: str
    next_step: str  # what to do when it is not met: the article's recommendation, in one line


@dataclass
class Relationship:
    team: str  # "" for the organisation
    start: date
    end: date
    as_of: datetime | None
    criteria: list[Criterion]

    @property
    def level(self) -> str:
        reached = "undefined"
        for level in LEVELS[1:]:
            if all(c.met for c in self.criteria if LEVELS.index(c.level) <= LEVELS.index(level)):
                reached = level
            else:
                break
        return reached

    @property
    def level_text(self) -> str:
        return LEVEL_TEXT[self.level]

    @property
    def next_level(self) -> str | None:
        index = LEVELS.index(self.level)
        return LEVELS[index + 1] if index + 1 < len(LEVELS) else None

    @property
    def to_do(self) -> list[Criterion]:
        """The criteria not met, lowest level first: what stands between here and the next levels."""
        return sorted((c for c in self.criteria if not c.met), key=lambda c: LEVELS.index(c.level))

    def rows(self) -> list[dict]:
        return [
            {"key": c.key, "label": c.title, "level": c.level, "value": c.value, "threshold": c.threshold,
             "met": c.met, "next_step": "" if c.met else c.next_step, "link": c.link}
            for c in self.criteria
        ]


def _report_link(query: ReportQuery, anchor: str) -> str:
    params = {"period": "custom", "start": query.start.isoformat(), "end": query.end.isoformat(), "group_by": "week"}
    if query.team is not None:
        params["team"] = query.team
    return f"{reverse('reports')}?{urlencode(params)}#{anchor}"


def relationship(*, scope: ReportScope, team: int | None, team_name: str, today: date) -> Relationship:
    """The criteria for the reader's scope (one team when `team` is given), over the last weeks up to today."""
    weeks = threshold("REPORT_RELATIONSHIP_WEEKS")
    start = week_of(today) - timedelta(weeks=weeks - 1)
    query = ReportQuery(start=start, end=today, preset="custom", group_by="week", team=team)
    as_of = summary_as_of()
    total = report_total(scope=scope, query=query, as_of=as_of)
    criteria = [
        _definition(),
        _reasons(scope, query),
        _disputes(total, query),
        _sales(total, query),
        _acceptance(total, query),
        _feedback(total, query),
        _volume(scope, query),
        _recycled_back(scope, team, today),
    ]
    return Relationship(team=team_name, start=start, end=today, as_of=as_of, criteria=criteria)


def _definition() -> Criterion:
    active = LeadDefinition.objects.filter(is_active=True).first()
    versions = LeadDefinition.objects.count()
    value = f"{active} in force ({versions} version{'s' if versions != 1 else ''})" if active else "none in force"
    return Criterion(
        "definition", "defined", "One lead definition in force, versioned", value, "a definition in force",
        active is not None, reverse("api:definition-list") + "?is_active=true",
        "Agree one lead definition with sales and activate it: a common language in the most contentious area.",
    )


def _reasons(scope: ReportScope, query: ReportQuery) -> Criterion:
    counted = ReportFact.objects.filter(fact_filter(scope, query), rejected=True).aggregate(
        n=Count("pk"), with_reason=Count("pk", filter=Q(reject_reason__isnull=False))
    )
    n, given = counted["n"], counted["with_reason"]
    share = pct(given, n)
    value = f"{share} % of {n} rejection{'s' if n != 1 else ''}" if n else "no rejections"
    return Criterion(
        "reasons", "defined", "A reason on every rejection", value, "100 %", given == n,
        _report_link(query, "reasons"),
        "Require a reason code on every rejection (and a note for 'other'), so each rejection tells marketing why.",
    )


def _disputes(total: Figures, query: ReportQuery) -> Criterion:
    limit = threshold("REPORT_DISPUTE_HOURS_MAX")
    n, median = total.decision_times
    hours = None if median is None else round(median / 3600, 2)
    value = f"median {hours} business hours over {n} decided" if n else "no dispute decided"
    if total.undecided:
        value += f"; {total.undecided} waiting"
    return Criterion(
        "disputes", "defined", "Disputes decided quickly", value, f"≤ {limit} business hours",
        hours is None or hours <= limit, _report_link(query, "outcomes"),
        "Give every dispute an owner who decides it within two business days: a manager, or a sales–marketing "
        "liaison.",
    )


def _sales(total: Figures, query: ReportQuery) -> Criterion:
    minimum = threshold("REPORT_SLA_ATTAINMENT_MIN")
    accept, touch = total.attainment("accept"), total.attainment("first_touch")
    parts = [f"accept {accept} %" if accept is not None else "no accept clock due",
             f"first touch {touch} %" if touch is not None else "no first-touch clock due"]
    met = all(value is None or value >= minimum for value in (accept, touch)) and (
        accept is not None or touch is not None
    )
    return Criterion(
        "sales_sla", "aligned", "Sales keeps its SLA", ", ".join(parts), f"≥ {minimum} % each", met,
        _report_link(query, "sales"),
        "Review every breach with its rep in the weekly pipeline meeting; change a window only by a new SLA "
        "version both sides agree to.",
    )


def _acceptance(total: Figures, query: ReportQuery) -> Criterion:
    policy = terms_policy(query)
    minimum = policy.min_acceptance_rate if policy is not None else None
    rate = total.acceptance_rate
    value = f"{rate} % of {total.decided} decided" if rate is not None else "no lead decided"
    limit = f"≥ {round(float(minimum) * 100, 1)} % (SLA policy v{policy.version})" if minimum is not None else \
        "no minimum agreed"
    return Criterion(
        "acceptance", "aligned", "Marketing keeps its side: leads sales accepts", value, limit,
        bool(total.acceptance_met), _report_link(query, "marketing"),
        "Agree a minimum acceptance rate in the SLA policy, and go through rejected leads together to revise the "
        "definition." if minimum is None else
        "Go through the rejected leads with sales (joint assignments) and revise the lead definition.",
    )


def _feedback(total: Figures, query: ReportQuery) -> Criterion:
    minimum = threshold("REPORT_FEEDBACK_COVERAGE_MIN")
    coverage = total.coverage
    value = f"{coverage} % of {total.feedback_asked} asked" if coverage is not None else "no feedback asked"
    return Criterion(
        "feedback", "aligned", "Sales' feedback reaches marketing", value, f"≥ {minimum} % answered",
        coverage is not None and coverage >= minimum, _report_link(query, "marketing"),
        "Ask reps for one-click feedback on their leads and show marketing what it says: better sales-force "
        "feedback.",
    )


def _volume(scope: ReportScope, query: ReportQuery) -> Criterion:
    minimum = threshold("REPORT_TARGET_WEEKS_MIN")
    targets = volume_targets(scope, query, terms_policy(query))
    weeks = [w.week for w in targets[0].weeks] if targets else []
    met_weeks = sum(1 for i in range(len(weeks)) if all(t.weeks[i].met for t in targets))
    share = pct(met_weeks, len(weeks))
    value = f"{met_weeks} of {len(weeks)} weeks ({share} %)" if targets else "no volume target agreed"
    return Criterion(
        "volume", "integrated", "Marketing's volume target met", value, f"≥ {minimum} % of the weeks",
        share is not None and share >= minimum, _report_link(query, "targets"),
        "Plan the MQL volume per week and team together, and write it into the SLA policy's targets: joint planning.",
    )


def _recycled_back(scope: ReportScope, team: int | None, today: date) -> Criterion:
    """Of the leads recycled in the last weeks, how many came back as a new MQL (their next handoff exists)."""
    minimum, weeks = threshold("REPORT_RECYCLED_BACK_MIN"), threshold("REPORT_RECYCLED_BACK_WEEKS")
    start = week_of(today) - timedelta(weeks=weeks - 1)
    query = ReportQuery(start=start, end=today, preset="custom", group_by="week", team=team)
    later = Handoff.objects.filter(lead_id=OuterRef("handoff__lead_id"), sequence=OuterRef("sequence") + 1)
    counted = ReportFact.objects.filter(fact_filter(scope, query), recycled=True).aggregate(
        n=Count("pk"), back=Count("pk", filter=Q(Exists(later)))
    )
    n, back = counted["n"], counted["back"]
    share = pct(back, n)
    value = f"{back} of {n} ({share} %)" if n else "no lead recycled"
    return Criterion(
        "recycled_back", "integrated", "Recycled leads come back", value,
        f"≥ {minimum} % within {weeks} weeks", share is not None and share >= minimum,
        _report_link(query, "outcomes"),
        "Define the nurture steps with sales, so recycled leads come back qualified: a funnel defined from both "
        "ends.",
    )
