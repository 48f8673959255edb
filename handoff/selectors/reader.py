"""What every page asks of its signed-in reader, read with the reader: their roles, the teams they manage with the
members, the zone their pages' times are in and the number of leads they have yet to rate.

The session's user is read once per request (by the sign-in backend, `handoff.backends`); these come as columns of
that same query instead of four more, which on a list page were a fifth of its queries.
"""
from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import IntegerField, QuerySet
from django.db.models.expressions import RawSQL

from handoff.models import FeedbackOutcome, FeedbackRequest

from .calendars import remember_time_zone, zone_of_user
from .feedback import remember_feedback_pending
from .people import identity_columns, remember_identity

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
        **{
            _ZONE: zone_of_user(),
            _PENDING: RawSQL(pending, (FeedbackOutcome.PENDING,), output_field=IntegerField()),
        },
    )


def remember_reader(user: AbstractBaseUser) -> None:
    """Keep on the user (read by `users_as_readers`) their roles, teams, zone and leads to rate, so that
    `user_roles`, `managed_teams`, `person_time_zone` and `feedback_pending_count` ask nothing more."""
    remember_identity(user, user)
    remember_time_zone(user, zoneinfo.ZoneInfo(getattr(user, _ZONE) or settings.TIME_ZONE))
    remember_feedback_pending(user, getattr(user, _PENDING))
