"""A report put together: its groups, total, weekly trend, reasons and targets, for a reader's scope and filters.

The figures are counted from the report summary (`counts`) and cached: a report cannot change until the report job
refreshes the summary, and every refresh that wrote a row or saw a running clock fall due writes a new generation
into `ReportRefresh`, which every cache key carries (with the reader's scope, the filters and the teams' members,
which are read live). So a cached report is never staler than the summary itself, and such a refresh retires every
cached one: correct by construction.
What is cheap and not the summary's (names, the policy's terms) is read on every call.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from datetime import date, datetime

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.db.models.expressions import RawSQL

from handoff.db import compiled_once
from handoff.models import ReportRefresh, RepProfile, Team

from .counts import counted, figures_by, tuned
from .figures import Figures, Report
from .marketing import (
    reasons_pareto,
    target_entries,
    target_volumes,
    targets_count_as_the_report,
    targets_weekly,
    terms_policy,
)
from .scope import ReportQuery, ReportScope

CACHE_SECONDS = 60 * 60  # how long a quiet summary (no new generation) serves a report; bounds memory too
CACHE_VERSION = 1  # bump when what is cached changes shape


def summary_as_of() -> datetime | None:
    """When the report summary was last refreshed (None: never yet)."""
    return summary_state()[0]


def summary_state() -> tuple[datetime | None, str, str]:
    """The summary's time and generation (a new one at every refresh that changed a figure; "" before the first),
    and who is in which team now ("user:team,…"), for the cache keys: one query."""
    found = compiled_once(_summary_state)  # read on every view of a rep's page: built and compiled once per process
    return found[0] if found else (None, "", "")


def _summary_state():
    members = ReportRefresh.objects.annotate(members=RawSQL(_members_sql(), ()))
    return members.values_list("refreshed_at", "generation", "members").order_by("pk")[:1]


def _members_sql() -> str:
    """Who is in which team, as one text written by the database (read as 500 rows, they cost more Python than the
    cached report they key): on PostgreSQL the number of profiles and the sum of a hash of each (user, team) pair
    (no sort; moving any rep changes it), elsewhere every pair in user order."""
    q = connection.ops.quote_name
    pair = "CAST(p.user_id AS TEXT) || ':' || COALESCE(CAST(p.team_id AS TEXT), '')"
    profiles = q(RepProfile._meta.db_table)
    if connection.vendor == "postgresql":
        return f"(SELECT count(*) || ':' || COALESCE(sum(hashtext({pair})), 0) FROM {profiles} p)"
    return f"(SELECT group_concat(pair, ',') FROM (SELECT {pair} AS pair FROM {profiles} p ORDER BY p.user_id))"


def _cache_key(kind: str, generation: str, members: str, scope: ReportScope, query: ReportQuery,
               as_of: datetime | None, extra: tuple = ()) -> str:
    """The key of a cached computation: the summary's generation (a refresh that wrote nothing and saw no clock
    fall due keeps it: the figures are the same), another time than the summary's if one was asked for, the scope,
    the filters, and who is in which team now (teams are read live: a rep moved to another team counts for it at
    once)."""
    parts = (
        CACHE_VERSION, kind, generation, as_of.isoformat() if as_of else None,
        None if scope.team_ids is None else sorted(scope.team_ids),
        None if scope.rep_team_ids is None else sorted(scope.rep_team_ids),
        query.start.isoformat(), query.end.isoformat(), query.group_by, query.team, query.rep, query.source,
        query.segment, query.definition_version, query.policy_version, extra, members,
    )
    return f"handoff:report:{kind}:" + hashlib.sha256(repr(parts).encode()).hexdigest()


def _cached(state: tuple[datetime | None, str, str], kind: str, scope: ReportScope, query: ReportQuery,
            as_of: datetime | None, compute, extra: tuple = (), *, remember: bool = True):
    """compute(), or its result cached for this summary (`state`: its time, generation and teams' members; computed
    anew while the summary was never refreshed). `remember`: note the report as read, for the job to compute it
    again after each refresh (`reports_warm`)."""
    refreshed_at, generation, members = state
    if not generation:
        return compute()
    other_time = as_of if as_of != refreshed_at else None  # the figures at another time than the summary's
    if remember:
        _remember(kind, scope, query, other_time)
    key = _cache_key(kind, generation, members, scope, query, other_time, extra)
    found = cache.get(key)
    if found is None:
        found = compute()
        cache.set(key, found, CACHE_SECONDS)
    return found


# ---------------------------------------------------------------------------------------------
# Reports read lately, computed again by the report job after each refresh
# ---------------------------------------------------------------------------------------------
RECENT_KEY = "handoff:report:recent"
WARM_MINUTES = 15  # a report read in this long is computed again after each refresh
WARM_LIMIT = 40  # the most recently read reports at most, per refresh
WARM_SECONDS = 20.0  # and no longer than this


_noted: dict[tuple, float] = {}  # what this process noted lately, and when (monotonic): noted once a minute at most


def _remember(kind: str, scope: ReportScope, query: ReportQuery, as_of: datetime | None) -> None:
    """Note a report as read now (in the cache, shared by every process), for `reports_warm`."""
    if as_of is not None:
        return  # a report of another time than the summary's is not kept warm
    sig = (kind, replace(scope, user_id=0), query)
    if time.monotonic() - _noted.get(sig, float("-inf")) < 60:
        return
    if len(_noted) > 1000:
        _noted.clear()
    _noted[sig] = time.monotonic()
    recent = cache.get(RECENT_KEY) or {}
    recent[sig] = time.time()
    if len(recent) > 4 * WARM_LIMIT:
        recent = dict(sorted(recent.items(), key=lambda item: item[1])[-2 * WARM_LIMIT:])
    cache.set(RECENT_KEY, recent, WARM_MINUTES * 60)


def reports_warm() -> int:
    """Compute again, for the summary as it stands now, the reports read in the last WARM_MINUTES (the most recent
    WARM_LIMIT, for at most WARM_SECONDS), so their readers find them in the cache: the report job calls it after
    each refresh. Returns how many were computed or found."""
    recent = cache.get(RECENT_KEY) or {}
    cutoff = time.time() - WARM_MINUTES * 60
    entries = sorted(((at, sig) for sig, at in recent.items() if at >= cutoff), key=lambda item: -item[0])
    started, done = time.monotonic(), 0
    for _, (kind, scope, query) in entries[:WARM_LIMIT]:
        if time.monotonic() - started > WARM_SECONDS:
            break
        if kind == "report":
            report(scope=scope, query=query, remember=False)
        else:
            report_total(scope=scope, query=query, remember=False)
        done += 1
    return done


def report(*, scope: ReportScope, query: ReportQuery, as_of: datetime | None = None, remember: bool = True) -> Report:
    """The report for the reader's scope and the query: its groups, total, weekly trend, reasons and targets.
    `as_of`: the figures at another time than the summary's (tests, the benchmark)."""
    state = summary_state()
    as_of = as_of or state[0]
    policy = terms_policy(query)
    minimum = policy.min_acceptance_rate if policy is not None else None
    entries = target_entries(scope, query, policy)
    # The volumes of the targets count with the report's own rows only when it has no filter of its own.
    together = bool(entries) and targets_count_as_the_report(scope, query)
    groupings = [query.group_by, None] if query.group_by == "week" else [query.group_by, "week", None]

    def compute():
        with tuned():
            found, reasons, volumes = counted(scope, query, groupings, as_of, volumes=together)
            if entries and not together:
                volumes = target_volumes(scope, query)
        return found, reasons, volumes

    found, reasons, volumes = _cached(state, "report", scope, query, as_of, compute,
                                      extra=(bool(entries), together), remember=remember)
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
        reasons=reasons_pareto(reasons),
        targets=targets_weekly(entries, volumes, query),
        policy=policy,
    )


def report_total(
    *, scope: ReportScope, query: ReportQuery, as_of: datetime | None = None, remember: bool = True,
    state: tuple[datetime | None, str, str] | None = None, terms: bool = True,
) -> Figures:
    """Only the total of the report (the "My SLA" card, the weekly mail, the relationship page). `state`: the
    summary's (summary_state()) when the caller has read it already, for several totals of one page; `terms`:
    with the policy's minimum acceptance rate to judge it by (a query; the "My SLA" card shows no such figure)."""
    state = state or summary_state()
    as_of = as_of or state[0]

    def compute():
        with tuned():
            return figures_by(scope, query, [None], as_of)[None].get(None)

    total = _cached(state, "total", scope, query, as_of, compute, remember=remember) or Figures("", "All")
    total.key, total.label = "", "All"
    if terms:
        policy = terms_policy(query)
        total.min_acceptance_rate = policy.min_acceptance_rate if policy is not None else None
    return total


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
        for user in get_user_model().objects.filter(pk__in=ids).only("pk", "first_name", "last_name", "username"):
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
