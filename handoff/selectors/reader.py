"""What every page asks of its signed-in reader, read with the reader: their roles, the teams they manage with the
members, the team they belong to, the zone their pages' times are in, the number of leads they have yet to rate and
the fingerprint of the reference data (`selectors.reference`: reason codes, SLA segments, business calendars).

The session's user is read once per request (by the sign-in backend, `handoff.backends`); these come as columns of
that same query instead of four more, which on a list page were a fifth of its queries.
"""
from __future__ import annotations

import functools
import zoneinfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import IntegerField, QuerySet
from django.db.models.expressions import RawSQL

from handoff.db import OneRowStatement, one_row, one_row_statement
from handoff.models import FeedbackOutcome, FeedbackRequest

from .calendars import remember_time_zone, zone_of_user
from .feedback import remember_feedback_pending
from .people import identity_columns, own_team_column, remember_identity, remember_own_team
from .reference import fingerprint_column, remember_fingerprint

_ZONE = "handoff_zone"
_PENDING = "handoff_feedback_pending"


def users_as_readers() -> QuerySet:
    """Users, each with what a page asks of its reader (`remember_reader` keeps it on the user)."""
    User = get_user_model()
    q = connection.ops.quote_name
    user_id = f"{q(User._meta.db_table)}.{q(User._meta.pk.column)}"
    pending = (
        f"(SELECT COUNT(*) FROM {q(FeedbackRequest._meta.db_table)} f "
        f"WHERE f.{q(FeedbackRequest._meta.get_field('rater').column)} = {user_id} AND f.outcome = %s)"
    )
    return User._default_manager.annotate(
        **identity_columns(user_id),
        **own_team_column(user_id),
        **fingerprint_column(),
        **{
            _ZONE: zone_of_user(),
            _PENDING: RawSQL(pending, (FeedbackOutcome.PENDING,), output_field=IntegerField()),
        },
    )


# A stand-in for the user's id while the statement is built (within a 32-bit key's range: Django finds no row for
# a value outside it, and writes no SQL).
_STAND_IN = 2_118_123_457


@functools.cache
def _statement() -> OneRowStatement:
    """`users_as_readers()` of one user, compiled once per process (the ORM took as long to build and compile it as
    the database to run it)."""
    return one_row_statement(users_as_readers().filter(pk=_STAND_IN), _STAND_IN)


def reader(user_id: int) -> AbstractBaseUser | None:
    """The user (None: no such user), as `users_as_readers()` reads them, with `remember_reader` done: one statement,
    on PostgreSQL prepared once per connection."""
    User = get_user_model()
    if connection.vendor != "postgresql":
        user = users_as_readers().filter(pk=user_id).first()
    else:
        row = one_row(_statement(), user_id)
        if row is None:
            return None
        user = User.from_db("default", list(row[User]), list(row[User].values()))
        for annotation, value in row[None].items():
            setattr(user, annotation, value)
    if user is not None:
        remember_reader(user)
    return user


def remember_reader(user: AbstractBaseUser) -> None:
    """Keep on the user (read by `users_as_readers`) their roles, teams, own team, zone, leads to rate and the
    reference data's fingerprint, so that `user_roles`, `managed_teams`, `own_team`, `person_time_zone` and
    `feedback_pending_count` ask nothing more, and `reasons_by_kind`, `segment_names` and `business_calendars` nothing
    while it holds."""
    remember_identity(user, user)
    remember_own_team(user, user)
    remember_time_zone(user, zoneinfo.ZoneInfo(getattr(user, _ZONE) or settings.TIME_ZONE))
    remember_feedback_pending(user, getattr(user, _PENDING))
    remember_fingerprint(user, user)
