"""What the manager reports read: a summary of every handoff round and dispute, kept current by the report job, and
the weekly summary mail's outbox.

The summary is derived: `report_facts_refresh` (handoff/services/reports.py) rewrites the rows of every handoff
that changed since its last run, from the handoffs, their SLA milestones, leads and events, so a report over a
million handoffs reads one narrow table instead of joining four wide ones. It can always be rebuilt from them.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from .handoffs import Handoff, HandoffEvent
from .leads import LeadDefinition, ReasonCode
from .outbox import Outbox, OutboxStatus
from .sla import SlaPolicy


class ClockStatus(models.IntegerChoices):
    """Where one SLA milestone stood when the summary was refreshed."""

    NONE = 0, "No clock"
    MET = 1, "Met in time"
    MISSED = 2, "Missed (breached, met late, or ended after its due time)"
    RUNNING = 3, "Running: missed once its due time passes, not due before"
    PAUSED = 4, "Paused: not due"
    STOPPED = 5, "Ended before it was due: not due"


CLOCKS = ("accept", "first_touch", "follow_up")  # the MilestoneKind values, in the reports' order
TIMED = ["accept_seconds", "first_touch_seconds", "connect_seconds"]  # the times whose percentiles reports give


class GroupKeys(models.Model):
    """What the reports filter and group a handoff by: when the lead was qualified (the period, the weeks), who owns
    it now (their team is read live), where it came from, the SLA segment and policy of its first clocks, the lead
    definition it was judged by."""

    qualified_at = models.DateTimeField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    lead_source = models.CharField(max_length=255, blank=True)
    segment = models.CharField(max_length=40, blank=True)
    definition = models.ForeignKey(
        LeadDefinition, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    policy = models.ForeignKey(
        SlaPolicy, null=True, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )

    class Meta:
        abstract = True


class ReportFact(GroupKeys):
    """One round of one handoff's clocks (round 2 and up after a dispute overturned a rejection), with the handoff's
    group keys on every round and its outcome on round 1 only, so counting round-1 rows counts handoffs once."""

    # The refresh writes these from rows that hold checked references; handoffs are never deleted.
    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="report_facts", db_index=False)
    round = models.PositiveSmallIntegerField()
    # The handoff's outcome (round 1; false and empty on later rounds).
    sequence = models.PositiveIntegerField(help_text="1 for a lead's first qualification, 2 after one recycle, …")
    accepted = models.BooleanField(default=False)
    rejected = models.BooleanField(default=False, help_text="A rejection that stands (not overturned).")
    converted = models.BooleanField(default=False)
    recycled = models.BooleanField(default=False)
    reject_reason = models.ForeignKey(
        ReasonCode, null=True, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    # This round's clocks: where each stood, its due time while running, the business time it took when met.
    accept_status = models.PositiveSmallIntegerField(choices=ClockStatus.choices, default=ClockStatus.NONE)
    accept_due_at = models.DateTimeField(null=True)
    accept_seconds = models.IntegerField(null=True, help_text="Business seconds to accept or reject.")
    first_touch_status = models.PositiveSmallIntegerField(choices=ClockStatus.choices, default=ClockStatus.NONE)
    first_touch_due_at = models.DateTimeField(null=True)
    first_touch_seconds = models.IntegerField(null=True)
    follow_up_status = models.PositiveSmallIntegerField(choices=ClockStatus.choices, default=ClockStatus.NONE)
    follow_up_due_at = models.DateTimeField(null=True)
    follow_up_seconds = models.IntegerField(null=True)
    connect_seconds = models.IntegerField(null=True, help_text="Business seconds to the first connected touch.")
    # Sales' feedback on the lead (round 1): requests asked (withdrawn ones left out), answered, and their ratings.
    feedback_asked = models.PositiveSmallIntegerField(default=0)
    feedback_answered = models.PositiveSmallIntegerField(default=0)
    rating_sum = models.PositiveIntegerField(default=0)
    rated = models.PositiveSmallIntegerField(default=0)
    refreshed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["handoff", "round"], name="one_report_fact_per_round")]
        indexes = [
            # A period of every group, and one rep's periods, with the times whose percentiles a report computes
            # (and the owner: its rep and team), so that the percentiles of a period are read from the index alone.
            models.Index(fields=["qualified_at"], include=[*TIMED, "owner"], name="report_fact_period_idx"),
            models.Index(fields=["owner", "qualified_at"], include=TIMED, name="report_fact_owner_idx"),
            # The clocks still running, by due time: the few not yet due at a report's time are read from these.
            *(
                models.Index(fields=[f"{clock}_due_at"], condition=Q(**{f"{clock}_status": ClockStatus.RUNNING}),
                             name=f"report_wait_{clock}_idx")
                for clock in CLOCKS
            ),
        ]

    def __str__(self) -> str:
        return f"handoff {self.handoff_id} round {self.round}"


class ReportDispute(GroupKeys):
    """One dispute of a rejection and its decision, with the business time the decision took (in the calendar whose
    hours count for the handoff), and its handoff's group keys (as on its round-1 fact)."""

    event = models.OneToOneField(
        HandoffEvent, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+",
        help_text="The dispute's event.",
    )
    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="report_disputes", db_index=False)
    disputed_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True)
    decision = models.CharField(max_length=8, blank=True, help_text="uphold or overturn; empty while undecided.")
    business_seconds = models.IntegerField(null=True, help_text="From the dispute to the decision.")

    class Meta:
        indexes = [models.Index(fields=["qualified_at"], name="report_dispute_period_idx")]

    def __str__(self) -> str:
        return f"dispute {self.event_id}: {self.decision or 'undecided'}"


class ReportDay(models.Model):
    """The summary's counts per day and group keys: every round-1 fact of the handoffs qualified that day (a day of
    TIME_ZONE, the reports' days) with the same owner, source, segment, definition, policy and standing rejection
    reason, added up, and the clocks of every round. Kept by the refresh from the facts (the days it touched are
    counted again), so a report's counts read a few hundred rows a day instead of every handoff. Only counts and sums
    live here: percentiles do not add up, the reports compute them from the facts of the period asked.

    A running clock is missed once its due time passes the summary's time, which moves on every refresh: the running
    clocks are counted here and the report takes off those not yet due at its time (few: a partial index of the facts
    finds them)."""

    day = models.DateField()
    week = models.DateField(help_text="The Monday of the day's week.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False,
        related_name="+",
    )
    lead_source = models.CharField(max_length=255, blank=True)
    segment = models.CharField(max_length=40, blank=True)
    definition = models.ForeignKey(
        LeadDefinition, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    policy = models.ForeignKey(
        SlaPolicy, null=True, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    reject_reason = models.ForeignKey(
        ReasonCode, null=True, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    handoffs = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    converted = models.PositiveIntegerField(default=0)
    recycled = models.PositiveIntegerField(default=0)
    # Handoffs that are their lead's 1st, 2nd, 3rd, 4th-or-later MQL.
    first = models.PositiveIntegerField(default=0)
    second = models.PositiveIntegerField(default=0)
    third = models.PositiveIntegerField(default=0)
    fourth_plus = models.PositiveIntegerField(default=0)
    # Clocks of every round: met in time, missed (breached, met late, ended after due), running.
    accept_met = models.PositiveIntegerField(default=0)
    accept_missed = models.PositiveIntegerField(default=0)
    accept_running = models.PositiveIntegerField(default=0)
    first_touch_met = models.PositiveIntegerField(default=0)
    first_touch_missed = models.PositiveIntegerField(default=0)
    first_touch_running = models.PositiveIntegerField(default=0)
    follow_up_met = models.PositiveIntegerField(default=0)
    follow_up_missed = models.PositiveIntegerField(default=0)
    follow_up_running = models.PositiveIntegerField(default=0)
    feedback_asked = models.PositiveIntegerField(default=0)
    feedback_answered = models.PositiveIntegerField(default=0)
    rating_sum = models.PositiveIntegerField(default=0)
    rated = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["day"], name="report_day_idx"),
            models.Index(fields=["owner", "day"], name="report_day_owner_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.day}: {self.handoffs} handoffs of user {self.owner_id}"


class ReportRefresh(models.Model):
    """How far the summary has been kept: one row, locked by the refresh that runs."""

    refreshed_at = models.DateTimeField(null=True, help_text="Handoffs changed before this are in the summary.")
    rebuilt_at = models.DateTimeField(null=True, help_text="The last refresh of every handoff.")
    rows = models.PositiveIntegerField(default=0, help_text="Rounds written by the last refresh.")
    revision_mark = models.BigIntegerField(
        default=0, help_text="Feedback revisions (answers, changes) up to this id have been read."
    )
    generation = models.CharField(
        max_length=32, blank=True,
        help_text="New at every refresh that changed a figure: the reports' cache keys carry it, so such a refresh "
        "retires every cached report.",
    )

    def __str__(self) -> str:
        return f"report summary as of {self.refreshed_at}"


class WeeklySummary(Outbox):
    """One manager's Monday mail about one week: written from their 08:00, sent after commit, never twice."""

    manager = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    week = models.DateField(help_text="The Monday of the week it reports (a date of TIME_ZONE).")
    figures = models.JSONField(default=dict, help_text="The figures as they were when it was written.")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "weekly summaries"
        constraints = [models.UniqueConstraint(fields=["manager", "week"], name="one_weekly_summary_per_week")]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING]),
                name="weekly_summary_due_idx",
            )
        ]

    def __str__(self) -> str:
        return f"Weekly summary of user {self.manager_id} for the week of {self.week}"
