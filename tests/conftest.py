"""Shared fixtures: one person per role and a team, as every test of the rules of engagement needs."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection

from handoff.models import Role, Team
from handoff.services.actors import Actor
from handoff.services.handoffs import handoff_qualify

from .factories import make_lead, make_user


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


@pytest.fixture
def committed_db(django_db_setup, django_db_blocker):
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
