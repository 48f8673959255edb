"""Marketing's side of the agreement: the SLA policy whose terms apply, the MQL volume handed over each week
against each of its `mql_targets`, and why sales rejected the leads (a Pareto of the standing rejections).
"""
from __future__ import annotations

from collections import defaultdict

from django.db.models import Q, Sum

from handoff.models import ReasonCode, ReportDay, SlaPolicy, Team

from .figures import Reason, Target, TargetWeek, pct
from .scope import ReportQuery, ReportScope, group_key


def terms_policy(query: ReportQuery) -> SlaPolicy | None:
    """The SLA policy whose marketing terms the report holds the figures against: the filtered version, else the
    active one."""
    if query.policy_version is not None:
        return SlaPolicy.objects.filter(version=query.policy_version).first()
    return SlaPolicy.objects.filter(is_active=True).first()


def reasons_pareto(counted: dict) -> list[Reason]:
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
    entries = target_entries(scope, query, policy)
    return targets_weekly(entries, target_volumes(scope, query) if entries else {}, query)


def target_entries(scope: ReportScope, query: ReportQuery, policy: SlaPolicy | None) -> list[tuple]:
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


def targets_count_as_the_report(scope: ReportScope, query: ReportQuery) -> bool:
    """Whether the targets' volumes are counted over the report's own rows: no filter narrows it."""
    narrowed = any(value is not None for value in (query.team, query.rep, query.source, query.segment,
                                                   query.definition_version, query.policy_version))
    return not narrowed and (query.group_by != "rep" or scope.rep_team_ids is None)


def target_volumes(scope: ReportScope, query: ReportQuery) -> dict[tuple[str, object, str], int]:
    """MQLs by (week, team id, segment) in the period, of every team the reader sees (from the day counts)."""
    mine = Q() if scope.team_ids is None else Q(owner__profile__team_id__in=sorted(scope.team_ids))
    counted = (
        ReportDay.objects.filter(mine, day__gte=query.start, day__lte=query.end)
        .values("week", "owner__profile__team_id", "segment")
        .annotate(n=Sum("handoffs"))
        .order_by()
    )
    volume: dict[tuple[str, object, str], int] = defaultdict(int)
    for row in counted:
        if row["n"]:
            volume[(group_key("week", row["week"]), row["owner__profile__team_id"], row["segment"])] += row["n"]
    return dict(volume)


def targets_weekly(entries: list[tuple], volume: dict, query: ReportQuery) -> list[Target]:
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
