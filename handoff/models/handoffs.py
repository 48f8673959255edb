"""Handoffs (one qualification episode of a lead), their append-only event log and logged touches."""
from django.conf import settings
from django.db import models
from django.db.models import Q

from .leads import Lead, LeadDefinition, ReasonCode


class HandoffState(models.TextChoices):
    QUALIFIED = "qualified", "Qualified (handed to sales)"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    DISPUTED = "disputed", "Disputed"
    CONVERTED = "converted", "Converted"
    RECYCLED = "recycled", "Recycled"
    CLOSED = "closed", "Closed"


# A lead has at most one handoff in these states; the others end an episode.
OPEN_STATES = (HandoffState.QUALIFIED, HandoffState.ACCEPTED, HandoffState.REJECTED, HandoffState.DISPUTED)


class ActorKind(models.TextChoices):
    USER = "user", "Person"
    RULE = "rule", "Lead definition rule"
    SYNC = "sync", "CRM sync"
    SYSTEM = "system", "System (SLA escalation)"
    ROUTING = "routing", "Routing"


class Handoff(models.Model):
    lead = models.ForeignKey(Lead, on_delete=models.PROTECT, related_name="handoffs")
    sequence = models.PositiveIntegerField(help_text="1 for the first qualification, 2 after a recycle, …")
    state = models.CharField(max_length=16, choices=HandoffState.choices, default=HandoffState.QUALIFIED)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="handoffs",
        help_text="The rep the lead was handed to; empty while a queue holds it.",
    )
    definition = models.ForeignKey(
        LeadDefinition,
        on_delete=models.PROTECT,
        related_name="handoffs",
        help_text="The lead definition in force when the lead was qualified.",
    )
    qualified_by_kind = models.CharField(max_length=8, choices=ActorKind.choices, default=ActorKind.USER)
    qualified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    qualified_at = models.DateTimeField()
    handed_at = models.DateTimeField(
        help_text="When the lead was last handed to sales: qualification, or a dispute overturned."
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    rejected_at = models.DateTimeField(null=True, blank=True)
    disputed_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    first_touch_at = models.DateTimeField(null=True, blank=True)
    first_connect_at = models.DateTimeField(null=True, blank=True)
    converted_at = models.DateTimeField(null=True, blank=True)
    recycled_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    reason = models.ForeignKey(
        ReasonCode,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The reason of the latest reject or recycle.",
    )
    note = models.TextField(blank=True)
    dispute_reason = models.ForeignKey(
        ReasonCode, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    dispute_note = models.TextField(blank=True)
    next_due_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="The earliest due time of its ticking clocks (not met, stopped or paused; breached ones too), kept "
        "by the database (migration 0019): none when no clock ticks.",
    )
    owner_team = models.ForeignKey(
        "handoff.Team",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
        help_text="The owner's team (none: in the queue, or the owner is in none), kept by the database (migration "
        "0022), whoever writes the handoff or moves a rep: what a manager's list reads newest first per team.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-qualified_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["lead", "sequence"], name="unique_handoff_sequence"),
            models.UniqueConstraint(
                fields=["lead"], condition=Q(state__in=OPEN_STATES), name="one_open_handoff_per_lead"
            ),
        ]
        indexes = [
            # A rep's list by state (the page's "to do": qualified or accepted), newest first or most urgent first:
            # with the id in it, the urgency sort reads the rep's rows from the index alone (selectors/sla.py).
            models.Index(fields=["owner", "state", "-handed_at", "-id"], name="handoff_owner_state_idx"),
            # A rep's list most urgent first (selectors/sla.py `by_urgency`): in the page's order by the next due
            # time kept on the handoff (migration 0019), the state last so that the to-do filter reads the index.
            models.Index(
                fields=["owner", "next_due_at", "-handed_at", "-id", "state"], name="handoff_owner_urgency_idx"
            ),
            # Lists newest hand-over first (API, pages): a rep's own, and a manager's per team member (owner IN …).
            models.Index(fields=["owner", "-handed_at", "-id"], name="handoff_owner_handed_idx"),
            # Lists newest hand-over first over many owners: marketers' and admins' (every row), and a manager's
            # `owner IN (team) OR no owner`, read in order until a page is full. The owner is in it (PostgreSQL) so
            # that finding a manager's page (the API's first statement reads ids and positions alone) skips the other
            # teams' rows in the index, without reading them from the table: a 1,000,000-row table's share of other
            # teams' rows no longer costs a table read each.
            models.Index(fields=["-handed_at", "-id"], include=["owner"], name="handoff_handed_idx"),
            # A manager's list newest hand-over first, one team at a time, merged with the queue's (selectors/handoffs
            # `handoffs_visible_in_parts`): only the team's rows, where `handoff_handed_idx` passes over every other
            # team's.
            models.Index(
                fields=["owner_team", "-handed_at", "-id"], include=["owner"], name="handoff_team_handed_idx"
            ),
            # The queue's part of a manager's list, newest hand-over first.
            models.Index(
                fields=["-handed_at", "-id"], condition=Q(owner__isnull=True), name="handoff_queue_handed_idx"
            ),
            # The same lists filtered by one state (`?state=`, the pages' state filter), newest hand-over first.
            models.Index(fields=["state", "-handed_at", "-id"], include=["owner"], name="handoff_state_handed_idx"),
            models.Index(fields=["state", "-qualified_at"], name="handoff_state_idx"),
            # The feedback job's daily look for handoffs accepted N business days ago (services/feedback.py).
            models.Index(fields=["accepted_at"], condition=Q(state="accepted"), name="handoff_accepted_idx"),
            # The report job's look for handoffs changed since its last run (services/reports.py).
            models.Index(fields=["updated_at"], name="handoff_updated_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.lead} #{self.sequence} ({self.get_state_display()})"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def recycle_count(self) -> int:
        """Recycles before this episode: sequence 1 has none."""
        return self.sequence - 1


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError(f"{self.model.LOG_NAME} is append-only.")

    def delete(self):
        raise TypeError(f"{self.model.LOG_NAME} is append-only.")


class AppendOnly(models.Model):
    """A log: rows are written once, never updated, never deleted (`LOG_NAME` says which log in the refusal)."""

    LOG_NAME = "This log"

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise TypeError(f"{self.LOG_NAME} is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError(f"{self.LOG_NAME} is append-only.")


class HandoffEvent(AppendOnly):
    """One transition of a handoff, as it happened. Append-only: never updated, never deleted."""

    LOG_NAME = "The handoff event log"

    handoff = models.ForeignKey(Handoff, on_delete=models.PROTECT, related_name="events")
    lead = models.ForeignKey(Lead, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(max_length=16)
    from_state = models.CharField(max_length=16, choices=HandoffState.choices, blank=True)
    to_state = models.CharField(max_length=16, choices=HandoffState.choices)
    actor_kind = models.CharField(max_length=8, choices=ActorKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.ForeignKey(ReasonCode, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)
    definition = models.ForeignKey(LeadDefinition, on_delete=models.PROTECT, related_name="+")
    data = models.JSONField(default=dict, blank=True, help_text="Details of the action (touch kind, decision, …).")
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["lead", "at"]), models.Index(fields=["handoff", "at"])]

    def __str__(self) -> str:
        return f"{self.action}: {self.from_state or '—'} → {self.to_state}"

    @property
    def actor_label(self) -> str:
        if self.actor_kind == ActorKind.USER and self.actor_id:
            return self.actor.get_full_name() or self.actor.get_username()
        return self.get_actor_kind_display()


class Touch(models.Model):
    class Kind(models.TextChoices):
        CALL = "call", "Call"
        EMAIL = "email", "Email"
        MEETING = "meeting", "Meeting"

    class Outcome(models.TextChoices):
        ATTEMPT = "attempt", "Attempt"
        CONNECTED = "connected", "Connected"

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="touches")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    at = models.DateTimeField(help_text="When it happened: the rep may log it after the fact, within a window.")
    logged_at = models.DateTimeField(help_text="When it was logged here.")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "touches"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(at__lte=models.F("logged_at")), name="touch_not_logged_before_it_happened"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_outcome_display()})"

    @property
    def logged_after(self):
        """How long after it happened the touch was logged (wall-clock)."""
        return self.logged_at - self.at
