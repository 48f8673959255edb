"""Reading SLA clocks: next deadlines for lists, business time left and its wording, milestones of a lead."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import NamedTuple

from django.db.models import CharField, Exists, F, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from handoff import businesstime
from handoff.db import RowCondition, compiled_once, own_columns
from handoff.models import Handoff, Lead, Milestone, MilestoneKind, SlaPolicy
from handoff.selectors.calendars import CALENDAR_FIELDS, calendars_load, calendars_of

# Clocks with a deadline ahead or overdue: not met, not stopped, not paused (breached ones too: most urgent). The
# predicate of the partial index milestone_ticking_idx (models.sla.TICKING): keep the two the same.
_TICKING = {"met_at__isnull": True, "stopped_at__isnull": True, "paused_at__isnull": True}


# Whether a handoff has a breached clock: `EXISTS` on milestone_breached_idx, written as SQL once (a list filters by
# it on every request, and Django copies an `Exists`'s whole subquery each time it resolves one into a query).
_CLOCKS = Milestone._meta.db_table
_BREACHED = RowCondition(
    f'EXISTS (SELECT 1 FROM "{_CLOCKS}" breached_clock WHERE breached_clock."handoff_id" = {{row}}."id" '
    'AND breached_clock."breached_at" IS NOT NULL)'
)
_NOT_BREACHED = ~_BREACHED

# A handoff's next clock as two columns of the list's own query, so a page of rows needs no query of its clocks
# (`clock_of_row`): its due time (kept on the handoff by the database: migration 0019) and, from the clock due then,
# "kind:calendar id" (clocks due at the same instant may differ in kind; each is read in the order of
# milestone_ticking_idx, with no sort).
_NEXT_CLOCK = Milestone.objects.filter(handoff=OuterRef("pk"), **_TICKING).order_by("due_at")
NEXT_CLOCK_COLUMNS = {
    "next_clock_due_at": F("next_due_at"),
    "next_clock_of": Subquery(
        _NEXT_CLOCK.annotate(of=Concat("kind", Value(":"), Cast("calendar_id", CharField()))).values("of")[:1]
    ),
}


def by_urgency(handoffs: QuerySet[Handoff]) -> QuerySet[Handoff]:
    """Most urgent first: the earliest deadline (overdue ones lead), handoffs without a running clock last (the next
    due time kept on the handoff: handoff_owner_urgency_idx serves a rep's list in this order)."""
    return handoffs.order_by(F("next_due_at").asc(nulls_last=True), "-handed_at", "-id")


def handoffs_breached(handoffs: QuerySet[Handoff], breached: bool = True) -> QuerySet[Handoff]:
    """Handoffs with (or, False: without) a breached clock, met late or not."""
    return handoffs.filter(_BREACHED if breached else _NOT_BREACHED)


def handoffs_due_before(handoffs: QuerySet[Handoff], moment: datetime) -> QuerySet[Handoff]:
    """Handoffs with a running clock due before `moment`."""
    return handoffs.filter(Exists(Milestone.objects.filter(handoff=OuterRef("pk"), due_at__lt=moment, **_TICKING)))


def milestones_of(handoffs: Iterable[Handoff | int]) -> QuerySet[Milestone]:
    ids = [h.pk if isinstance(h, Handoff) else h for h in handoffs]
    return Milestone.objects.filter(handoff_id__in=ids).select_related("policy", "calendar").order_by(
        "handoff_id", "round", "due_at"
    )


def milestones_of_lead(lead: Lead) -> list[Milestone]:
    """Every clock of every handoff of the lead, for the lead page: with its policy's version and its handoff's
    number (the calendar it runs in is the reader's kept one: `business_time_text`'s `calendars`). The query is
    compiled once per process (`compiled_once`)."""
    return compiled_once(_milestones_of_lead, lead.pk)


def _milestones_of_lead(lead_id: int) -> QuerySet[Milestone]:
    return (
        Milestone.objects.filter(handoff__lead_id=lead_id)
        .select_related("policy", "handoff")
        .only(*own_columns(Milestone), "policy__version", "handoff__sequence")
        .order_by("-handoff__sequence", "round", "due_at")
    )


def business_time_left(
    clock: Milestone | Handoff, now: datetime | None = None, calendars: dict[int, businesstime.Calendar] | None = None
) -> timedelta | None:
    """Business time until the clock's due time (negative once past it); for a handoff, its next deadline.

    None when nothing is ticking (met, stopped, or no clock). A paused clock keeps the time it had left. `calendars`:
    the calendars by id, when the caller has them (else the clock's is read).
    """
    now = now or timezone.now()
    milestone = clock if isinstance(clock, Milestone) else next_milestone(clock)
    if milestone is None or milestone.met_at is not None or milestone.stopped_at is not None:
        return None
    if milestone.paused_at is not None:
        return timedelta(seconds=milestone.remaining_seconds or 0)
    calendar = (calendars or {}).get(milestone.calendar_id) or _calendar(milestone.calendar_id)
    return businesstime.between(now, milestone.due_at, calendar)


def next_milestone(handoff: Handoff) -> Milestone | None:
    return Milestone.objects.filter(handoff=handoff, **_TICKING).order_by("due_at").first()


def _calendar(calendar_id: int) -> businesstime.Calendar:

    return calendars_load([calendar_id])[calendar_id]


def format_duration(delta: timedelta) -> str:
    """'2 h 10 m', '45 m', '0 m' (rounded down to the minute; hours not folded into days: business days vary)."""
    minutes = max(int(delta.total_seconds()) // 60, 0)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} m" if hours else f"{minutes} m"


def format_elapsed(delta: timedelta) -> str:
    """Wall-clock time since something happened: '35 m', '3 h 5 m', and from a day on '6 d 20 h' (not '164 h')."""
    minutes = max(int(delta.total_seconds()) // 60, 0)
    days, minutes = divmod(minutes, 24 * 60)
    if days:
        return f"{days} d {minutes // 60} h"
    return format_duration(timedelta(minutes=minutes))


def business_time_text(
    milestone: Milestone, now: datetime | None = None, calendars: dict[int, businesstime.Calendar] | None = None
) -> str:
    """'2 h 10 m of business time left', 'breached 35 m ago', 'paused, …', 'met', 'met 20 m late', 'stopped'."""
    now = now or timezone.now()
    if milestone.met_at is not None:
        if milestone.met_at > milestone.due_at:
            return f"met {format_duration(milestone.met_at - milestone.due_at)} late"
        return "met"
    if milestone.stopped_at is not None:
        return "breached, then stopped" if milestone.breached_at else "stopped"
    if milestone.paused_at is None and milestone.due_at <= now:
        return f"breached {format_elapsed(now - milestone.due_at)} ago"
    left = business_time_left(milestone, now, calendars)
    text = f"{format_duration(left)} of business time left"
    return f"paused, {text}" if milestone.paused_at is not None else text


class Clock(NamedTuple):
    """What a list shows of a handoff's next clock: its kind and due time (and the calendar it was timed in)."""

    kind: str
    due_at: datetime
    calendar_id: int

    def get_kind_display(self) -> str:
        return MilestoneKind(self.kind).label


def clock_of_row(due_at: datetime | None, of: str | None) -> Clock | None:
    """The next clock from the `NEXT_CLOCK_COLUMNS` of a row (None: no clock running)."""
    if due_at is None or of is None:
        return None
    kind, _, calendar_id = of.partition(":")
    return Clock(kind, due_at, int(calendar_id))


def wording(clock: Clock, now: datetime, calendars: dict[int, businesstime.Calendar]) -> str:
    """'breached 3 h 5 m ago', '2 h 10 m of business time left' (in the clock's calendar, from `calendars`)."""
    if clock.due_at <= now:
        return f"breached {format_elapsed(now - clock.due_at)} ago"
    left = businesstime.between(now, clock.due_at, calendars[clock.calendar_id])
    return f"{format_duration(left)} of business time left"


def clocks_ahead(clocks: Iterable[Clock | None], now: datetime) -> set[int]:
    """The calendars `wording` needs for these clocks: those of the clocks not yet due."""
    return {clock.calendar_id for clock in clocks if clock is not None and clock.due_at > now}


def deadlines(handoffs: Iterable, now: datetime | None = None) -> dict[int, tuple[Clock, str]]:
    """handoff id → (its next deadline's clock, its wording), in two queries for a whole page of handoffs (or of
    list rows: anything with a `pk`): the clocks with their calendars, read as values, then the calendars'
    exception days. (A list that reads `NEXT_CLOCK_COLUMNS` with its rows needs only the calendars: `wording`.)"""

    now = now or timezone.now()
    nearest: dict[int, Clock] = {}
    stored: dict[int, dict] = {}  # the calendars of the clocks still running, read with them
    ticking = Milestone.objects.filter(handoff_id__in=[h.pk for h in handoffs], **_TICKING).order_by("due_at")
    columns = ("handoff_id", "kind", "due_at", "calendar_id", *(f"calendar__{f}" for f in CALENDAR_FIELDS))
    for handoff_id, kind, due_at, calendar_id, *calendar in ticking.values_list(*columns):
        if handoff_id not in nearest:
            nearest[handoff_id] = Clock(kind, due_at, calendar_id)
            if due_at > now:
                stored[calendar_id] = dict(zip(CALENDAR_FIELDS, calendar, strict=True))
    cals = calendars_of(stored)
    return {handoff_id: (clock, wording(clock, now, cals)) for handoff_id, clock in nearest.items()}


def active_policy() -> SlaPolicy | None:
    """The SLA policy version new handoffs are timed by, if any."""
    return SlaPolicy.objects.filter(is_active=True).first()
