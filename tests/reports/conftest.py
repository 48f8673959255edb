"""Report fixtures: the clock pinned in the week of Monday 9 March 2026 (UTC; the default calendar is Mon–Fri
09:00–17:00 UTC and the organisation's zone UTC), and one week of handoffs made through the state machine whose every
figure is worked out by hand below.

The week (team EMEA: the rep Rita; team Americas: the rep Rob), SLA policy v1 (standard: accept within 24 business
hours, first touch within 2; 5 attempts in 56; hot = a "Demo Request"):

  H1  Mon 09:00 handed; accepted 10:00 (1 h); attempt 10:30 (first touch, 1.5 h); connected 12:00 (3 h); converted
      Tue 10:00 (the follow-up clock ends before it is due).
  H2  Mon 09:00; accepted Thu 11:00, 26 business hours: a breach met late; first touch Thu 12:00 (27 h, late).
  H3  Mon 09:00; paused 10:00, resumed Tue 10:00 (8 business hours paused), accepted Tue 11:00: 2 h, paused time left
      out; its first-touch clock, moved to Tue 11:00 by the pause, is past due and still running.
  H4  Mon 14:00; paused 14:30 and still paused: none of its clocks is due.
  H5  Mon 09:00; rejected 09:30 (student, 0.5 h); disputed 10:00; overturned 14:00 (4 business hours): round 2
      accepted 15:00 (1 h); round 2's first touch (due Mon 16:00) is running past due.
  H6  Mon 09:00; rejected 10:45 (wrong region, 1.75 h); disputed 12:00; upheld Tue 10:00 (6 business hours); recycled
      by marketing Tue 11:00 (reason nurture): the rejection stands, its reason read from the reject event.
  H7a Mon 09:00; accepted 09:15 (0.25 h); recycled by the rep 16:00, its first touch (due 11:00) never made: missed.
  H7b the same lead again Tue 09:00 (its second MQL); accepted 09:30 (0.5 h); first touch (due 11:00) not made.
  H9  a "Demo Request" (hot: accept within 15 min) Mon 09:00; accepted 09:10 (10 min); first touch not made.
  H8  Rob's (Americas) Mon 09:00; accepted 09:05 (5 min); first touch not made.

Feedback asked Tue 10:30 (the request job): H1 converted, H5 and H6 rejected, H7a recycled; Rita rates H1 5, H6 2 and
H7a 4; H5 stays pending. The summary is refreshed Fri 13 March 17:00.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.cache import cache

from handoff.models import SlaPolicy
from handoff.selectors.reports import ReportQuery, report, report_scope, summary
from handoff.services import handoffs as machine
from handoff.services.actors import Actor
from handoff.services.feedback import feedback_requests_create, lead_feedback_give
from handoff.services.reports import report_facts_refresh
from tests.api.conftest import api  # noqa: F401 - a client per member of the cast
from tests.factories import make_lead
from tests.views.conftest import browser  # noqa: F401 - a signed-in browser per member of the cast

DAYS = {"Mon": 9, "Tue": 10, "Wed": 11, "Thu": 12, "Fri": 13}
WEEK = date(2026, 3, 9)
AS_OF = datetime(2026, 3, 13, 17, 0, tzinfo=UTC)


def when(text: str) -> datetime:
    """"Tue 10:30" in the week of 9 March 2026, UTC."""
    day, clock = text.split()
    hour, minute = (int(part) for part in clock.split(":"))
    return datetime(2026, 3, DAYS[day], hour, minute, tzinfo=UTC)


@pytest.fixture(autouse=True)
def no_cached_reports():
    """Every test starts with no report cached and none noted as read lately (the cache outlives a test's
    database)."""
    cache.clear()
    summary._noted.clear()


@pytest.fixture
def clock(time_machine):
    """`clock("Tue 10:30")` stops the clock there (Mon 09:00 at first)."""

    def move(text: str) -> datetime:
        moment = when(text)
        time_machine.move_to(moment, tick=False)
        return moment

    move("Mon 08:00")
    return move


@dataclass
class Week:
    handoffs: dict[str, int]
    as_of: datetime


def terms(*, targets: list, minimum: str | None) -> SlaPolicy:
    """Marketing's terms on the policy in force (terms that do not change its clocks)."""
    policy = SlaPolicy.objects.get(is_active=True)
    policy.mql_targets = targets
    policy.min_acceptance_rate = Decimal(minimum) if minimum is not None else None
    policy.save()
    return policy


@pytest.fixture
def week(cast, clock) -> Week:
    """The week described above, summarised at AS_OF."""
    rep, rob, marketer, manager = (Actor.person(u) for u in (cast.rep, cast.other_rep, cast.marketer, cast.manager))
    terms(targets=[{"team": "EMEA", "per_week": 8}, {"segment": "hot", "per_week": 2}], minimum="0.8")
    lead7 = make_lead(owner=cast.rep)
    h: dict[str, object] = {}

    def qualify(name: str, lead=None, owner=None):
        h[name] = machine.handoff_qualify(lead=lead or make_lead(owner=owner or cast.rep), actor=marketer)

    clock("Mon 09:00")
    for name in ("H1", "H2", "H3", "H5", "H6"):
        qualify(name)
    qualify("H7a", lead=lead7)
    qualify("H9", lead=make_lead(owner=cast.rep, lead_source="Demo Request"))
    qualify("H8", owner=cast.other_rep)
    clock("Mon 09:05")
    machine.handoff_accept(handoff=h["H8"], actor=rob)
    clock("Mon 09:10")
    machine.handoff_accept(handoff=h["H9"], actor=rep)
    clock("Mon 09:15")
    machine.handoff_accept(handoff=h["H7a"], actor=rep)
    clock("Mon 09:30")
    machine.handoff_reject(handoff=h["H5"], actor=rep, reason="student")
    clock("Mon 10:00")
    machine.handoff_accept(handoff=h["H1"], actor=rep)
    machine.handoff_pause(handoff=h["H3"], actor=rep)
    machine.handoff_dispute(handoff=h["H5"], actor=marketer, reason="meets_definition")
    clock("Mon 10:30")
    machine.handoff_touch(handoff=h["H1"], actor=rep, kind="call", outcome="attempt")
    clock("Mon 10:45")
    machine.handoff_reject(handoff=h["H6"], actor=rep, reason="wrong_region")
    clock("Mon 12:00")
    machine.handoff_touch(handoff=h["H1"], actor=rep, kind="call", outcome="connected")
    machine.handoff_dispute(handoff=h["H6"], actor=marketer, reason="meets_definition")
    clock("Mon 14:00")
    machine.handoff_resolve(handoff=h["H5"], actor=manager, decision="overturn")
    qualify("H4")
    clock("Mon 14:30")
    machine.handoff_pause(handoff=h["H4"], actor=rep)
    clock("Mon 15:00")
    machine.handoff_accept(handoff=h["H5"], actor=rep)
    clock("Mon 16:00")
    machine.handoff_recycle(handoff=h["H7a"], actor=rep, reason="not_ready")
    clock("Tue 09:00")
    qualify("H7b", lead=lead7)
    clock("Tue 09:30")
    machine.handoff_accept(handoff=h["H7b"], actor=rep)
    clock("Tue 10:00")
    machine.handoff_resume(handoff=h["H3"], actor=rep)
    machine.handoff_resolve(handoff=h["H6"], actor=manager, decision="uphold")
    machine.handoff_convert(handoff=h["H1"], actor=rep)
    clock("Tue 10:30")
    assert feedback_requests_create().created == 4
    for name, rating in (("H1", 5), ("H6", 2), ("H7a", 4)):
        request = h[name].feedback_requests.get()
        lead_feedback_give(request=request, actor=rep, rating=rating)
    clock("Tue 11:00")
    machine.handoff_accept(handoff=h["H3"], actor=rep)
    machine.handoff_recycle(handoff=h["H6"], actor=marketer, reason="nurture")
    clock("Thu 11:00")
    machine.handoff_accept(handoff=h["H2"], actor=rep)
    clock("Thu 12:00")
    machine.handoff_touch(handoff=h["H2"], actor=rep, kind="email", outcome="attempt")
    clock("Fri 17:00")
    report_facts_refresh()
    return Week({name: handoff.pk for name, handoff in h.items()}, AS_OF)


def query(**kwargs) -> ReportQuery:
    """The week of 9 March (Mon–Fri), grouped by rep unless told otherwise."""
    return ReportQuery(**{"start": WEEK, "end": date(2026, 3, 13), "preset": "custom", "group_by": "rep", **kwargs})


def report_for(user, **kwargs):
    return report(scope=report_scope(user), query=query(**kwargs))
