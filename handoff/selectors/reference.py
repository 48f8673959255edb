"""Reference data: the reason codes and the SLA policy's segments, which every list page shows in its dropdowns, and
the business calendars its deadlines are worded in; all change a few times a year.

On PostgreSQL each page's reader comes with a fingerprint of their four tables (`fingerprint_column`, read in the
reader's own statement: each table's number of rows and the sum of a hash of each row's every column). A process
keeps what it read for the fingerprint it read it under, and reads again when a page's fingerprint differs: an
admin's change to a reason code, a calendar or its days, or a new policy version shows on the next page anyone
opens, in every process, while a page with nothing changed asks no query for them. Elsewhere (SQLite), and without a
reader, they are read on every call.

What is kept is shared by every request of the process: read it, never change it.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import TextField, Value
from django.db.models.expressions import RawSQL

from handoff import businesstime
from handoff.models import BusinessCalendar, CalendarDay, ReasonCode, SlaPolicy
from handoff.segments import parse_segments

from .calendars import calendars_load

_FINGERPRINT = "handoff_reference"
_TABLES = (ReasonCode, SlaPolicy, BusinessCalendar, CalendarDay)

T = TypeVar("T")
_kept: dict[str, tuple[str, object]] = {}  # name → (the fingerprint it was read under, what was read)


def fingerprint_column() -> dict[str, RawSQL | Value]:
    """An annotation giving the reference tables' fingerprint, for `users_as_readers` (None on other databases than
    PostgreSQL: nothing is kept there)."""
    if connection.vendor != "postgresql":
        return {_FINGERPRINT: Value(None, output_field=TextField())}
    q = connection.ops.quote_name
    parts = " || '/' || ".join(
        f"(SELECT count(*) || ':' || COALESCE(sum(hashtext(CAST(t AS TEXT))), 0) FROM {q(model._meta.db_table)} t)"
        for model in _TABLES
    )
    return {_FINGERPRINT: RawSQL(f"({parts})", (), output_field=TextField())}


def remember_fingerprint(user: AbstractBaseUser, row) -> None:
    """Keep on the user the fingerprint read with `fingerprint_column` on `row`."""
    setattr(user, _FINGERPRINT, getattr(row, _FINGERPRINT, None))


def _kept_for(reader: AbstractBaseUser | None, name: str, read: Callable[[], T]) -> T:
    """read(), or what it gave this process under the reader's fingerprint of the reference tables."""
    fingerprint = getattr(reader, _FINGERPRINT, None)
    if fingerprint is None:
        return read()
    found = _kept.get(name)
    if found is not None and found[0] == fingerprint:
        return found[1]
    # Read after the fingerprint: what is kept is never older than the fingerprint it is kept under.
    value = read()
    _kept[name] = (fingerprint, value)
    return value


def _active_reasons() -> dict[str, list[ReasonCode]]:
    grouped: dict[str, list[ReasonCode]] = {kind: [] for kind in ReasonCode.Kind.values}
    for reason in ReasonCode.objects.filter(is_active=True).order_by("kind", "label"):
        grouped[reason.kind].append(reason)
    return grouped


def reasons_by_kind(reader: AbstractBaseUser | None = None) -> dict[str, list[ReasonCode]]:
    """The active reason codes by kind, in label order, for the dropdowns of a whole page (one query at most)."""
    return _kept_for(reader, "reasons", _active_reasons)


def _segment_names() -> list[str]:
    policy = SlaPolicy.objects.filter(is_active=True).only("segments").first()
    return [segment.name for segment in parse_segments(policy.segments)] if policy is not None else []


def segment_names(reader: AbstractBaseUser | None = None) -> list[str]:
    """The names of the SLA segments of the policy in force, in its order (none without a policy)."""
    return _kept_for(reader, "segments", _segment_names)


def business_calendars(reader: AbstractBaseUser | None, ids: set[int]) -> dict[int, businesstime.Calendar]:
    """The business-time calendars of these ids (at least those: while kept, every calendar)."""
    if not ids:
        return {}
    if getattr(reader, _FINGERPRINT, None) is None:
        return calendars_load(ids)
    every = BusinessCalendar.objects.values_list("pk", flat=True)
    found = _kept_for(reader, "calendars", lambda: calendars_load(every))
    missing = ids - found.keys()
    # A calendar made after the fingerprint was read (its clocks started since): read alone, not kept.
    return {**found, **calendars_load(missing)} if missing else found
