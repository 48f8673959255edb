"""Who may read which figures, the report's filters, its periods and its groups.

- An admin reads every team (and the team queue), each rep's figures too.
- A manager reads the teams they manage, each of their reps' figures too.
- A marketer reads every team, in aggregate: by team, lead source, SLA segment or week, never by rep.
- A rep reads only their own figures (the "My SLA" card); the reports are not theirs.

Days and weeks are those of TIME_ZONE, the organisation's zone, as in marketing's lead quality report: every reader
sees the same weeks, whatever their own zone.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import F, Q
from django.db.models.functions import TruncWeek

from handoff.models import Role, Team

from ..people import user_roles
from ..quality import period_bounds, report_day, report_zone

PRESETS = {
    "this_week": "This week",
    "last_4_weeks": "Last 4 weeks",
    "this_quarter": "This quarter",
    "custom": "Custom",
}
DEFAULT_PRESET = "last_4_weeks"
MAX_DAYS = 731  # a custom period of up to two years
GROUPS = {"rep": "Rep", "team": "Team", "source": "Lead source", "segment": "SLA segment", "week": "Week"}


class ReportDenied(Exception):
    """The reader may not see what they asked for (the role, or a rep's own figures); `field` names the input."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class ReportScope:
    """What one reader may see. None: every team (and the queue); an empty set: none."""

    user_id: int
    team_ids: frozenset[int] | None  # teams whose figures the reader sees
    rep_team_ids: frozenset[int] | None  # teams whose reps' own figures the reader sees
    marketing: bool  # marketing's side: every team's MQL targets and the organisation's acceptance rate

    @property
    def per_rep(self) -> bool:
        return self.rep_team_ids is None or bool(self.rep_team_ids)

    @property
    def everything(self) -> bool:
        return self.team_ids is None

    def groups(self) -> dict[str, str]:
        """The groupings this reader may choose."""
        return {key: label for key, label in GROUPS.items() if key != "rep" or self.per_rep}

    def default_group(self) -> str:
        return "rep" if self.per_rep and self.team_ids is not None else "team"


def report_scope(user: AbstractBaseUser) -> ReportScope | None:
    """The reader's scope, or None when the reports are not theirs (a rep, a person without a role)."""
    roles = user_roles(user)
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_staff:
        return ReportScope(user.pk, None, None, marketing=True)
    managed = (
        frozenset(Team.objects.filter(manager=user).values_list("pk", flat=True))
        if Role.MANAGER in roles
        else frozenset()
    )
    if Role.MARKETER in roles:
        return ReportScope(user.pk, None, managed, marketing=True)
    if Role.MANAGER in roles:
        return ReportScope(user.pk, managed, managed, marketing=False)
    return None


def visible_teams(scope: ReportScope) -> list[tuple[int, str]]:
    """(id, name) of the teams the reader sees, by name."""
    teams = Team.objects.order_by("name")
    if scope.team_ids is not None:
        teams = teams.filter(pk__in=sorted(scope.team_ids))
    return list(teams.values_list("pk", "name"))


@dataclass(frozen=True)
class ReportQuery:
    """The report's filters; None: not filtered on that. Dates are days of TIME_ZONE, both included."""

    start: date
    end: date
    preset: str = DEFAULT_PRESET
    group_by: str = "team"
    team: int | None = None
    rep: int | None = None
    source: str | None = None
    segment: str | None = None
    definition_version: int | None = None
    policy_version: int | None = None
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return period_bounds(self.start, self.end)

    @property
    def weeks(self) -> list[date]:
        """The Monday of every week the period touches, oldest first."""
        monday = week_of(self.start)
        found = []
        while monday <= self.end:
            found.append(monday)
            monday += timedelta(weeks=1)
        return found

    def filters(self) -> dict[str, object]:
        """The filters given, as query parameters."""
        found = {
            "team": self.team,
            "rep": self.rep,
            "source": self.source,
            "segment": self.segment,
            "definition_version": self.definition_version,
            "policy_version": self.policy_version,
        }
        return {key: value for key, value in found.items() if value is not None}


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def report_today(now: datetime) -> date:
    return report_day(now)


def preset_period(preset: str, today: date) -> tuple[date, date]:
    """The days of a preset period, up to today: this week, the last 4 weeks (this one and the 3 before), this
    quarter."""
    if preset == "this_week":
        return week_of(today), today
    if preset == "last_4_weeks":
        return week_of(today) - timedelta(weeks=3), today
    if preset == "this_quarter":
        return date(today.year, 3 * ((today.month - 1) // 3) + 1, 1), today
    raise ValueError(f"Unknown period {preset!r}; use one of: {', '.join(PRESETS)}.")


def check_query(scope: ReportScope, query: ReportQuery) -> None:
    """Refuse what the reader may not see: a rep's own figures for whom only aggregates are open."""
    if not scope.per_rep:
        if query.group_by == "rep":
            raise ReportDenied("Marketing sees figures by team, lead source, SLA segment or week, not by rep.",
                               field="group_by")
        if query.rep is not None:
            raise ReportDenied("Marketing sees figures by team, lead source, SLA segment or week, not by rep.",
                               field="rep")
    if query.group_by not in scope.groups():
        raise ReportDenied(f"Group by one of: {', '.join(scope.groups())}.", field="group_by")


# ---------------------------------------------------------------------------------------------
# Filters and groups over the summary (a prefix reaches it from a row that points to it)
# ---------------------------------------------------------------------------------------------
def visible(scope: ReportScope, query: ReportQuery, prefix: str = "") -> Q:
    """The rows of the reader's scope: their teams; for a rep's own figures, the teams whose reps they may see."""
    q = Q()
    if scope.team_ids is not None:
        q &= Q(**{f"{prefix}owner__profile__team_id__in": sorted(scope.team_ids)})
    if (query.group_by == "rep" or query.rep is not None) and scope.rep_team_ids is not None:
        q &= Q(**{f"{prefix}owner__profile__team_id__in": sorted(scope.rep_team_ids)})
    return q


def fact_filter(scope: ReportScope, query: ReportQuery, prefix: str = "", *, period: bool = True) -> Q:
    """Every filter of the query and the reader's scope, on ReportFact rows (or rows pointing to them)."""
    q = visible(scope, query, prefix)
    if period:
        lo, hi = query.bounds
        q &= Q(**{f"{prefix}qualified_at__gte": lo, f"{prefix}qualified_at__lt": hi})
    if query.team is not None:
        q &= Q(**{f"{prefix}owner__profile__team_id": query.team})
    if query.rep is not None:
        q &= Q(**{f"{prefix}owner_id": query.rep})
    if query.source is not None:
        q &= Q(**{f"{prefix}lead_source": query.source})
    if query.segment is not None:
        q &= Q(**{f"{prefix}segment": query.segment})
    if query.definition_version is not None:
        q &= Q(**{f"{prefix}definition__version": query.definition_version})
    if query.policy_version is not None:
        q &= Q(**{f"{prefix}policy__version": query.policy_version})
    return q


def group_expression(group_by: str, prefix: str = "", *, days: bool = False):
    """The value rows are grouped by, on ReportFact rows (or rows pointing to them); `days`: on ReportDay rows,
    which carry their week."""
    if group_by == "week":
        return F(f"{prefix}week") if days else TruncWeek(f"{prefix}qualified_at", tzinfo=report_zone())
    return F(prefix + {"rep": "owner_id", "team": "owner__profile__team_id", "source": "lead_source",
                       "segment": "segment"}[group_by])


def group_key(group_by: str, value) -> str:
    """A group's value as text: an id, a source, a segment, a week's Monday (ISO); "" for none."""
    if value is None:
        return ""
    if group_by == "week":
        moment = value if isinstance(value, date) and not isinstance(value, datetime) else None
        if moment is None:
            moment = value.astimezone(report_zone()).date() if value.tzinfo else value.date()
        return moment.isoformat()
    return str(value)
