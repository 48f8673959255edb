"""Shared fixtures: one person per role and a team, as every test of the rules of engagement needs.

`HANDOFF_TEST_NOW` (e.g. `2026-03-09T09:50:00+00:00` or `2026-03-13T16:59[America/New_York]`) starts every test
at that instant, the clock ticking on from there (`make test-instants` runs the clock-sensitive suites at several):
a test whose outcome depends on the hour it runs at must pin the clock itself.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test.utils import setup_databases, teardown_databases

from handoff.models import Role, Team
from handoff.services.actors import Actor
from handoff.services.handoffs import handoff_qualify

from .factories import make_lead, make_user

TEST_NOW_VARIABLE = "HANDOFF_TEST_NOW"


def _test_now() -> datetime | None:
    """The instant `HANDOFF_TEST_NOW` names: ISO 8601 with an offset, or local time with a zone in brackets."""
    text = os.environ.get(TEST_NOW_VARIABLE, "").strip()
    if not text:
        return None
    stamp, _, zone = text.partition("[")
    try:
        instant = datetime.fromisoformat(stamp.strip())
        if zone:
            if instant.tzinfo is not None or not zone.endswith("]"):
                raise ValueError("give either an offset or a [zone], not both")
            instant = instant.replace(tzinfo=ZoneInfo(zone[:-1]))
    except (ValueError, KeyError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise pytest.UsageError(f"{TEST_NOW_VARIABLE}={text!r}: {exc}") from None
    if instant.tzinfo is None:
        raise pytest.UsageError(f"{TEST_NOW_VARIABLE}={text!r}: needs an offset (+00:00) or a [zone]")
    return instant


TEST_NOW: datetime | None = None


def pytest_configure(config) -> None:
    global TEST_NOW
    TEST_NOW = _test_now()


def pytest_report_header(config) -> str | None:
    if TEST_NOW is None:
        return None
    return f"{TEST_NOW_VARIABLE}: every test starts at {TEST_NOW.isoformat()} ({TEST_NOW.strftime('%A')})"


@pytest.fixture(autouse=True)
def _start_at_test_now(request):
    """With `HANDOFF_TEST_NOW` set, each test starts at that instant (before its other fixtures run)."""
    if TEST_NOW is None or request.node.get_closest_marker("time_machine"):
        # Unset, or the test pins the clock with the marker: its own travel must not be overridden.
        yield
        return
    # tick=True: time passes as usual. A test's own travel/move_to nests inside this one and undoes only itself.
    with time_machine.travel(TEST_NOW, tick=True):
        yield


@dataclass
class Cast:
    """The people of a small org: a marketer, a team of two reps with its manager, another team's manager."""

    marketer: User
    rep: User
    other_rep: User
    manager: User
    other_manager: User
    outsider: User
    team: Team
    other_team: Team

    def actor(self, name: str) -> Actor:
        return Actor.person(getattr(self, name))


@pytest.fixture
def cast(db) -> Cast:
    team = Team.objects.create(name="EMEA")
    other_team = Team.objects.create(name="Americas")
    manager = make_user("mia.manager", Role.MANAGER, team=team)
    other_manager = make_user("otto.manager", Role.MANAGER, team=other_team)
    team.manager = manager
    team.save()
    other_team.manager = other_manager
    other_team.save()
    return Cast(
        marketer=make_user("mark.marketer", Role.MARKETER),
        rep=make_user("rita.rep", Role.SALES_REP, team=team),
        other_rep=make_user("rob.rep", Role.SALES_REP, team=other_team),
        manager=manager,
        other_manager=other_manager,
        outsider=make_user("nobody"),
        team=team,
        other_team=other_team,
    )


@pytest.fixture
def lead(cast):
    return make_lead(owner=cast.rep)


@pytest.fixture
def qualified(cast, lead):
    """A handoff just handed to the rep by the marketer."""
    return handoff_qualify(lead=lead, actor=cast.actor("marketer"), note="Asked for a demo")


def _asks_for_test_database(item: pytest.Item) -> bool:
    return item.get_closest_marker("django_db") is not None or bool(
        {"db", "transactional_db", "live_server"} & set(getattr(item, "fixturenames", ()))
    )


@pytest.fixture(scope="session")
def _committed_test_database(request, django_db_setup, django_db_blocker):
    """pytest-django creates the test database only when some collected test asks for `db` (or is marked
    django_db): when only `committed_db` tests were collected, create it here, so they never touch the real one."""
    if any(_asks_for_test_database(item) for item in request.session.items):
        yield
        return
    with django_db_blocker.unblock():
        databases = setup_databases(verbosity=0, interactive=False, aliases={"default"})
    yield
    with django_db_blocker.unblock():
        teardown_databases(databases, verbosity=0)


@pytest.fixture
def committed_db(_committed_test_database, django_db_blocker):
    """Rows the test writes are committed, so the worker process sees them; afterwards the database is as before.

    Not django_db(transaction=True): its flush afterwards would leave the test database without the rows the
    migrations created (roles, reason codes, the first definition) for every test that runs later.
    """
    with django_db_blocker.unblock():
        snapshot = connection.creation.serialize_db_to_string()
        try:
            yield
        finally:
            # Sequences keep counting, so later inserts cannot collide with the restored primary keys.
            call_command("flush", verbosity=0, interactive=False, reset_sequences=False, inhibit_post_migrate=True)
            connection.creation.deserialize_db_from_string(snapshot)
