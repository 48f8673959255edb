"""SLA terms and clocks: business calendars, versioned SLA policies, milestones per handoff, the notice outbox."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from handoff import businesstime
from handoff.segments import parse_segments

from .handoffs import Handoff
from .outbox import Outbox
from .people import validate_time_zone
from .versioning import FrozenOnceApplied


def default_weekly_hours() -> list:
    return [[["09:00", "17:00"]] for _ in range(5)] + [[], []]


class BusinessCalendar(models.Model):
    """When business time runs: weekly hours in one IANA zone, public holidays, closures and extra days."""

    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    weekly_hours = models.JSONField(
        default=default_weekly_hours,
        help_text='Seven lists (Monday first) of [start, end] local times, e.g. [["09:00", "12:30"], '
        '["13:30", "17:00"]]; [] is a closed day; "24:00" ends at midnight.',
    )
    holiday_country = models.CharField(
        max_length=8, blank=True, help_text="ISO code for public holidays from the `holidays` package, e.g. US, DE."
    )
    holiday_subdivision = models.CharField(max_length=16, blank=True, help_text="e.g. CA for California, BY.")
    is_default = models.BooleanField(
        default=False, help_text="Used for owners whose profile and team have no calendar, and for the queue."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="one_default_calendar")
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:

        days = list(self.days.all()) if self.pk else []
        try:
            businesstime.calendar_from_values(
                time_zone=self.time_zone,
                weekly_hours=self.weekly_hours,
                holiday_country=self.holiday_country,
                holiday_subdivision=self.holiday_subdivision,
                days=[(d.date, d.hours) for d in days],
            )
        except ValueError as exc:
            message = str(exc)
            field = "weekly_hours"
            if "time zone" in message:
                field = "time_zone"
            elif "subdivision" in message:
                field = "holiday_subdivision"
            elif "holiday" in message.lower():
                field = "holiday_country"
            raise ValidationError({field: message}) from exc


class CalendarDay(models.Model):
    """One date that departs from the weekly hours: a closure (no hours) or an extra working day (its hours)."""

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="days")
    date = models.DateField()
    hours = models.JSONField(
        default=list, blank=True, help_text='Empty: closed all day. Else [[start, end], …], e.g. [["10:00", "14:00"]].'
    )
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["calendar", "date"], name="one_calendar_day_per_date")]

    def __str__(self) -> str:
        return f"{self.date} {'closed' if not self.hours else 'open'}"

    def clean(self) -> None:

        if not self.hours or self.date is None:
            return
        try:
            businesstime.calendar_from_values(time_zone="UTC", weekly_hours=[[]] * 7, days=[(self.date, self.hours)])
        except ValueError as exc:
            raise ValidationError({"hours": str(exc)}) from exc


class Escalation(models.TextChoices):
    NOTIFY = "notify", "Notify the owner's manager"
    QUEUE = "queue", "Notify, and give the lead back to the team queue"
    RECYCLE = "recycle", "Notify, and recycle the lead"


class SlaPolicy(FrozenOnceApplied):
    """One version of the two-sided service-level agreement.

    Sales' side is timed (accept, first touch, follow-up per segment); marketing's side is measured (an MQL
    volume per week and a minimum acceptance rate). A version that has clocked a handoff is immutable.
    """

    version = models.PositiveIntegerField(unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    segments = models.JSONField(
        default=list,
        help_text='First match wins. [{"name": "hot", "when": [[{"field": "lead_source", "op": "=", "value": '
        '"Demo Request"}], [{"field": "score", "op": ">=", "value": 80}]], "accept_minutes": 15, '
        '"first_touch_minutes": 120}, {"name": "standard", "when": [], "accept_minutes": 1440, '
        '"first_touch_minutes": 120}]. "when" lists alternatives (any), each a list of conditions (all); '
        "[] matches every lead. Minutes are business minutes.",
    )
    follow_up_attempts = models.PositiveSmallIntegerField(
        default=5, help_text="Touch attempts the owner makes before the lead may be recycled."
    )
    follow_up_minutes = models.PositiveIntegerField(
        default=7 * 8 * 60, help_text="Business minutes for those attempts (7 days of 8 business hours = 3360)."
    )
    reminder_share = models.DecimalField(
        max_digits=3, decimal_places=2, default=0.75, help_text="Remind the owner when this share of a window is used."
    )
    escalation = models.CharField(max_length=8, choices=Escalation.choices, default=Escalation.NOTIFY)
    pause_statuses = models.JSONField(
        default=list, blank=True, help_text='CRM statuses that pause the clocks, e.g. ["Waiting on customer"].'
    )
    touch_statuses = models.JSONField(
        default=list,
        blank=True,
        help_text="CRM statuses that count as a first touch; empty: the statuses CRM_STATUS_MAP calls 'working'.",
    )
    mql_targets = models.JSONField(
        default=list,
        blank=True,
        help_text='Marketing\'s side: [{"team": "EMEA", "segment": "hot", "per_week": 40}]; team/segment optional.',
    )
    min_acceptance_rate = models.DecimalField(
        max_digits=4, decimal_places=3, null=True, blank=True, help_text="Agreed minimum MQL→SAL rate, e.g. 0.6."
    )
    # Feedback points: when the rep is asked to rate the lead's quality (handoff/services/feedback.py).
    feedback_on_reject = models.BooleanField(
        default=True,
        help_text="Ask the rep to rate a lead they rejected (the rating only: the reject reason says why).",
    )
    feedback_after_accept_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text="Ask the rep to rate a lead this many business days (in the owner's calendar) after accepting "
        "it, if it is still open; empty: never.",
    )
    feedback_on_convert = models.BooleanField(default=True, help_text="Ask the rep to rate a lead that converted.")
    feedback_on_recycle = models.BooleanField(
        default=True, help_text="Ask the rep to rate a lead recycled after they accepted or rejected it."
    )
    is_active = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_sla_policy")
        ]

    TERMS = (
        "segments", "follow_up_attempts", "follow_up_minutes", "reminder_share", "escalation", "version",
        "feedback_on_reject", "feedback_after_accept_days", "feedback_on_convert", "feedback_on_recycle",
    )

    def frozen_message(self) -> str:
        return (
            f"SLA policy v{self.version} has already timed handoffs and its terms cannot change; "
            "create version N+1 and activate it."
        )

    def clean(self) -> None:

        try:
            parse_segments(self.segments)
        except ValueError as exc:
            raise ValidationError({"segments": str(exc)}) from exc
        if self.reminder_share is not None and not 0 < self.reminder_share < 1:
            raise ValidationError({"reminder_share": "The reminder comes at a share between 0 and 1, e.g. 0.75."})
        if self.follow_up_attempts and not self.follow_up_minutes:
            raise ValidationError({"follow_up_minutes": "Follow-up attempts need a window of business minutes."})
        for name in ("pause_statuses", "touch_statuses"):
            value = getattr(self, name)
            if not isinstance(value, list) or not all(isinstance(s, str) and s.strip() for s in value):
                raise ValidationError({name: "Expected a list of CRM status texts."})

    @property
    def has_clocked(self) -> bool:
        return self.pk is not None and self.milestones.exists()

    is_applied = has_clocked


class MilestoneKind(models.TextChoices):
    ACCEPT = "accept", "Accept or reject"
    FIRST_TOUCH = "first_touch", "First touch"
    FOLLOW_UP = "follow_up", "Follow-up attempts"


class PausedBy(models.TextChoices):
    STATUS = "status", "CRM status"
    FLAG = "flag", "Paused by hand"


# The scans' working set: clocks still running. Both partial indexes cover exactly these rows.
RUNNING = Q(met_at__isnull=True, breached_at__isnull=True, paused_at__isnull=True, stopped_at__isnull=True)
# A handoff's clocks with a deadline ahead or overdue (breached ones too): what the lists sort by, "next deadline"
# (selectors/sla.py, `_TICKING`).
TICKING = Q(met_at__isnull=True, paused_at__isnull=True, stopped_at__isnull=True)


class Milestone(models.Model):
    """One clock of one handoff: when it is due in business time, and whether and when it was met or breached.

    `due_at`/`remind_at` are absolute instants computed from the clock's calendar; pausing stores the business
    time left (`remaining_seconds`) and resuming recomputes them from it. A clock met after `due_at` is a breach
    too; `business_seconds_taken` is the business time used, paused time excluded.
    """

    # Indexes are what a flag costs: flagging a clock changes a column of the partial indexes' predicates, so
    # the update cannot be HOT and every index of the table gets a new entry. The unique (handoff, kind,
    # round) serves the handoff lookups; policies and calendars are looked up from this side only, so their
    # foreign keys carry no index of their own (deleting one is PROTECTed and rare).
    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="milestones", db_index=False)
    kind = models.CharField(max_length=12, choices=MilestoneKind.choices)
    round = models.PositiveSmallIntegerField(default=1, help_text="2 and up after a dispute overturned a rejection.")
    policy = models.ForeignKey(SlaPolicy, on_delete=models.PROTECT, related_name="milestones", db_index=False)
    segment = models.CharField(max_length=40)
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.PROTECT, related_name="+", db_index=False)
    started_at = models.DateTimeField()
    window_seconds = models.PositiveIntegerField(help_text="Business seconds allowed.")
    due_at = models.DateTimeField()
    remind_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    met_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True, help_text="When the clock ran out (its due time).")
    stopped_at = models.DateTimeField(
        null=True, blank=True, help_text="The handoff ended (converted, recycled, closed, rejected) before it was due."
    )
    business_seconds_taken = models.IntegerField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_by = models.CharField(max_length=8, choices=PausedBy.choices, blank=True)
    remaining_seconds = models.IntegerField(null=True, blank=True, help_text="Business seconds left when paused.")
    remind_remaining_seconds = models.IntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Touch attempts counted (follow-up).")
    attempts_required = models.PositiveSmallIntegerField(default=1)
    # First touch clocks only: the first connected touch (an attempt is not a connection), and the business time
    # from the clock's start to it, paused time excluded, measured when it was logged (the reports' percentiles).
    connected_at = models.DateTimeField(null=True, blank=True)
    business_seconds_to_connect = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["handoff", "round", "due_at"]
        constraints = [
            models.UniqueConstraint(fields=["handoff", "kind", "round"], name="one_milestone_per_kind_round"),
        ]
        indexes = [
            models.Index(fields=["due_at"], condition=RUNNING, name="milestone_running_due_idx"),
            models.Index(
                fields=["remind_at"], condition=RUNNING & Q(reminded_at__isnull=True), name="milestone_remind_idx"
            ),
            # `?breached=` of the handoff lists: does this handoff have a breached clock (selectors/sla.py). Partial:
            # only breached clocks are in it, so it stays small and a flag adds one entry to it.
            models.Index(fields=["handoff"], condition=Q(breached_at__isnull=False), name="milestone_breached_idx"),
            # Each handoff's earliest ticking due time, read from this index alone (migration 0017): the triggers
            # that keep `handoff.next_due_at` (migration 0019) and a list row's next clock (selectors/sla.py).
            # Flagging a breach keeps the clock in it.
            models.Index(fields=["handoff", "due_at"], condition=TICKING, name="milestone_ticking_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.handoff_id} due {self.due_at:%Y-%m-%d %H:%M}"

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.window_seconds)

    @property
    def is_breach(self) -> bool:
        return self.breached_at is not None or (self.met_at is not None and self.met_at > self.due_at)


class NotificationKind(models.TextChoices):
    REMINDER = "reminder", "Reminder"
    BREACH = "breach", "Breach"


class SlaNotification(Outbox):
    """The notice outbox: written in the scan's transaction, sent after commit, once per milestone and kind.

    Each channel records its own delivery (the `Outbox` fields), so a retry after a partial failure resends only
    what failed.
    """

    # The scan writes these rows in the statement that flags their milestones, so a 50,000-clock backlog is
    # 50,000 inserts in one transaction. The reference to the milestone is kept by the ORM (cascade, joins)
    # but not checked by the database: the only writer inserts the id of a row it holds locked, and a
    # deferred per-row check cost a third of the flag. A milestone belongs to one handoff, so (milestone,
    # kind) is the (handoff, milestone, kind) rule; the handoff is read through the milestone.
    milestone = models.ForeignKey(
        Milestone, on_delete=models.CASCADE, related_name="notifications", db_constraint=False, db_index=False
    )
    milestone_kind = models.CharField(max_length=12, choices=MilestoneKind.choices)
    kind = models.CharField(max_length=8, choices=NotificationKind.choices)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "SLA notification"
        constraints = [
            models.UniqueConstraint(fields=["milestone", "kind"], name="one_sla_notice_per_milestone"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], condition=Q(status__in=["pending", "sending"]), name="sla_notice_due_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.get_milestone_kind_display()} of handoff {self.handoff.pk}"

    @property
    def handoff(self) -> Handoff:
        return self.milestone.handoff
