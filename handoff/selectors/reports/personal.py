"""Figures about one person: a rep's "My SLA" card, and a manager's Monday mail about last week."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser

from handoff.models import Team
from handoff.selectors.people import own_team

from .figures import Figures
from .scope import ReportQuery, ReportScope
from .summary import report_total, summary_as_of, summary_state

# An internal scope: what the card and the mail count is chosen by their callers (the rep's own handoffs, the
# manager's teams), not by a reader's filters.
_ALL = ReportScope(user_id=0, team_ids=None, rep_team_ids=None, marketing=False)


@dataclass
class MySla:
    """A rep's month: my attainment and my median time to accept, beside my team's median."""

    start: date
    end: date
    as_of: datetime | None
    mine: Figures
    team: Figures | None
    team_name: str

    def row(self) -> dict:
        mine, team = self.mine.row(), self.team.row() if self.team is not None else {}
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "time_zone": settings.TIME_ZONE,
            "handoffs": mine["handoffs"],
            "accept_attainment_pct": mine["accept_attainment_pct"],
            "accept_met": mine["accept_met"],
            "accept_due": mine["accept_due"],
            "first_touch_attainment_pct": mine["first_touch_attainment_pct"],
            "first_touch_met": mine["first_touch_met"],
            "first_touch_due": mine["first_touch_due"],
            "follow_up_attainment_pct": mine["follow_up_attainment_pct"],
            "breaches": mine["breaches"],
            "accept_median_h": mine["accept_median_h"],
            "first_touch_median_h": mine["first_touch_median_h"],
            "team": self.team_name,
            "team_accept_median_h": team.get("accept_median_h"),
            "team_accept_attainment_pct": team.get("accept_attainment_pct"),
        }


def my_sla(*, user: AbstractBaseUser, today: date) -> MySla:
    """This month (days of TIME_ZONE, the 1st to today) for the rep, and for the rep's team."""
    start = today.replace(day=1)
    state = summary_state()  # read once for the card's two totals
    as_of = state[0]
    query = ReportQuery(start=start, end=today, preset="custom", group_by="rep", rep=user.pk)
    mine = report_total(scope=_ALL, query=query, as_of=as_of, state=state, terms=False)
    team_id, name = own_team(user)
    team = None
    if team_id is not None:
        team = report_total(scope=_ALL, query=ReportQuery(start=start, end=today, preset="custom", team=team_id),
                            as_of=as_of, state=state, terms=False)
    return MySla(start=start, end=today, as_of=as_of, mine=mine, team=team, team_name=name)


# The headline figures of the Monday mail: (row key, label, unit, higher is better).
HEADLINES = (
    ("handoffs", "MQLs handed over", "", True),
    ("accepted_pct", "Accepted", "%", True),
    ("accept_attainment_pct", "Accepted or rejected in SLA", "%", True),
    ("first_touch_attainment_pct", "First touch in SLA", "%", True),
    ("follow_up_attainment_pct", "Follow-up attempts in SLA", "%", True),
    ("breaches", "SLA breaches", "", False),
    ("accept_median_h", "Median business hours to accept or reject", "h", False),
    ("first_touch_median_h", "Median business hours to first touch", "h", False),
    ("acceptance_rate_pct", "Acceptance rate (marketing's side)", "%", True),
    ("disputes", "Disputes raised", "", False),
    ("feedback_coverage_pct", "Feedback coverage", "%", True),
    ("average_rating", "Average lead rating", "/5", True),
)


def weekly_figures(*, team_ids: list[int], week: date) -> dict:
    """Last week's headline figures of these teams beside the week before's, as stored in (and mailed from) the
    weekly summary: plain JSON."""
    scope = ReportScope(user_id=0, team_ids=frozenset(team_ids), rep_team_ids=frozenset(team_ids), marketing=False)
    as_of = summary_as_of()

    def total(monday: date) -> dict:
        query = ReportQuery(start=monday, end=monday + timedelta(days=6), preset="custom", group_by="team")
        return report_total(scope=scope, query=query, as_of=as_of).row()

    this, before = total(week), total(week - timedelta(weeks=1))
    rows = []
    for key, label, unit, higher in HEADLINES:
        now, then = this[key], before[key]
        change = None if now is None or then is None else round(now - then, 2)
        better = None if not change else (change > 0) == higher
        rows.append({"key": key, "label": label, "unit": unit, "this": now, "before": then, "change": change,
                     "better": better})
    teams = list(Team.objects.filter(pk__in=team_ids).order_by("name").values_list("name", flat=True))
    query = {"period": "custom", "start": week.isoformat(), "end": (week + timedelta(days=6)).isoformat(),
             "group_by": "rep"}
    return {
        "week": week.isoformat(),
        "week_label": f"{week:%b} {week.day}, {week.year}",
        "teams": teams,
        "rows": rows,
        "query": urlencode(query),
        "time_zone": settings.TIME_ZONE,
        "as_of": as_of.isoformat() if as_of else None,
    }
