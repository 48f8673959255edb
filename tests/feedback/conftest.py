"""Feedback fixtures: the clock pinned to a Monday morning, reps in New York and Berlin calendars, and builders that
take handoffs to each feedback point through the state machine."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from handoff.models import FeedbackRequest, RepProfile, Role
from handoff.services import handoffs as machine
from handoff.services.feedback import feedback_requests_create
from tests.api.conftest import api  # noqa: F401 - a client per member of the cast, for the API tests here
from tests.factories import make_lead, make_user
from tests.sla.conftest import make_calendar
from tests.views.conftest import browser  # noqa: F401 - a signed-in browser per member of the cast

NY, BERLIN = "America/New_York", "Europe/Berlin"
MONDAY = datetime(2026, 3, 9, 14, 0, tzinfo=ZoneInfo("UTC"))  # 10:00 in New York, 15:00 in Berlin


def local(text: str, zone: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


@pytest.fixture
def clock(time_machine):
    """The clock stands still at MONDAY; `clock(when)` moves it."""

    def move(when: datetime) -> datetime:
        time_machine.move_to(when, tick=False)
        return when

    move(MONDAY)
    return move


@pytest.fixture
def new_york(cast):
    """The rep works New York hours with US holidays, in their own zone."""
    calendar = make_calendar("New York", NY, country="US")
    RepProfile.objects.filter(user=cast.rep).update(calendar=calendar)
    cast.rep.refresh_from_db()
    return calendar


@pytest.fixture
def berlin_rep(cast):
    """A second rep of the same team, in Berlin with German holidays."""
    calendar = make_calendar("Berlin", BERLIN, country="DE")
    return make_user("bea.berlin", Role.SALES_REP, team=cast.team, calendar=calendar)


def handed(cast, owner="rep", **fields):
    """A lead handed now to `owner`: a user, a member of the cast by name (the rep by default), or None (the queue)."""
    owner = getattr(cast, owner) if isinstance(owner, str) else owner
    return machine.handoff_qualify(lead=make_lead(owner=owner, **fields), actor=cast.actor("marketer"))


def person(user):
    from handoff.services.actors import Actor

    return Actor.person(user)


def rejected(cast, owner=None, reason="wrong_persona", **fields):
    owner = owner or cast.rep
    return machine.handoff_reject(handoff=handed(cast, owner, **fields), actor=person(owner), reason=reason)


def accepted(cast, owner=None, at=None, **fields):
    owner = owner or cast.rep
    return machine.handoff_accept(handoff=handed(cast, owner, **fields), actor=person(owner), at=at)


def converted(cast, owner=None, **fields):
    owner = owner or cast.rep
    return machine.handoff_convert(handoff=accepted(cast, owner, **fields), actor=person(owner))


@pytest.fixture
def ask():
    """Run the request job (at the frozen now); returns how many requests it created."""

    def run(**kwargs) -> int:
        return feedback_requests_create(**kwargs).created

    return run


def request_of(handoff, rater=None) -> FeedbackRequest:
    requests = FeedbackRequest.objects.filter(handoff=handoff)
    if rater is not None:
        requests = requests.filter(rater=rater)
    return requests.get()
