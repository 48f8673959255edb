"""Sales feedback on lead quality: what the feedback job asks, what reps answer (with its history), the digest outbox.

A request is one question to one rep about one handoff (the handoff's owner when it reached a feedback point);
its answer is one `LeadFeedback` per handoff and rater, changed in place for a while, every version kept as a
`LeadFeedbackRevision`. The request copies what reports group by (lead source, SLA segment, definition and policy
versions, when the lead was handed over), so the quality report reads two tables, never the history.
"""
from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from .handoffs import AppendOnly, Handoff
from .leads import LeadDefinition, ReasonCode
from .outbox import Outbox, OutboxStatus
from .sla import BusinessCalendar, SlaPolicy

RATING_MIN, RATING_MAX = 1, 5
RATING_LABELS = {1: "Very poor", 2: "Poor", 3: "OK", 4: "Good", 5: "Excellent"}
NOTE_MAX_LENGTH = 2000


class FeedbackPoint(models.TextChoices):
    """When a rep is asked: which point of the handoff's life triggered the request."""

    REJECTED = "rejected", "Rejected"
    ACCEPTED = "accepted", "Worked for a few business days"
    CONVERTED = "converted", "Converted"
    RECYCLED = "recycled", "Recycled"


# The points a transition reaches (the others are reached by time passing: accepted N business days ago).
EVENT_POINTS = (FeedbackPoint.REJECTED, FeedbackPoint.CONVERTED, FeedbackPoint.RECYCLED)


class FeedbackOutcome(models.TextChoices):
    PENDING = "pending", "Waiting for the rep"
    ANSWERED = "answered", "Answered"
    EXPIRED = "expired", "Expired (not given)"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Via(models.TextChoices):
    LINK = "link", "One-click link from the digest"
    APP = "app", "The app's pages"
    API = "api", "The API"


def _copied(to, *, related_name: str = "+", null: bool = False, help_text: str = "") -> models.ForeignKey:
    """A reference copied from a row that holds it under a checked foreign key.

    The request job inserts 100,000 requests in one go. Every id comes from a row that holds it under a checked key
    (the handoff, its owner, its clock's policy, its definition, its reject event's reason), all of them PROTECTed
    from deletion, so the database does not check them again: five deferred per-row checks cost as much as the
    insert itself. The ORM still joins and protects them.
    """
    return models.ForeignKey(
        to,
        on_delete=models.PROTECT,
        related_name=related_name,
        null=null,
        blank=null,
        db_constraint=False,
        db_index=False,
        help_text=help_text,
    )


class FeedbackPointReached(models.Model):
    """A handoff that just reached an event feedback point, waiting for the request job.

    Written by the state machine's transition (a listener, in its transaction) with everything the request copies,
    read there from the handoff, its lead and its accept clock; deleted by the job in the transaction that asks.
    The job's insert reads this small table alone, not the million handoffs, leads and clocks behind it.
    """

    # Handoffs and people are never deleted while their history stands: no index needed for a cascade.
    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="+", db_index=False)
    rater = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        help_text="The handoff's owner when it reached the point: who is asked.",
    )
    point = models.CharField(max_length=12, choices=FeedbackPoint.choices)
    reached_at = models.DateTimeField()
    definition = _copied(LeadDefinition)
    policy = _copied(SlaPolicy, null=True, help_text="The policy of the handoff's accept clock (none: unclocked).")
    qualified_at = models.DateTimeField()
    lead_source = models.CharField(max_length=255, blank=True)
    segment = models.CharField(max_length=40, blank=True)
    reject_reason = _copied(ReasonCode, null=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"handoff {self.handoff_id} {self.point} at {self.reached_at:%Y-%m-%d %H:%M}"


class FeedbackScan(models.Model):
    """How far the request job has looked for handoffs accepted N business days ago, per calendar and N.

    The point is reached at the start of the N-th working day after the day of acceptance, so "reached by now" is
    "accepted before a cut-off instant" that moves once a working day: the job looks only at what lies between
    the cut-off it reached last time and the one of now, and a re-run with nothing new reads no handoff.
    """

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="+")
    business_days = models.PositiveSmallIntegerField()
    accepted_before = models.DateTimeField(help_text="Handoffs accepted before this instant have been looked at.")
    checked_at = models.DateTimeField(help_text="When the job last looked: the cut-off moves once a local day.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["calendar", "business_days"], name="one_feedback_scan_per_calendar_days")
        ]

    def __str__(self) -> str:
        return f"{self.calendar_id}/{self.business_days} business days: accepted before {self.accepted_before}"


class FeedbackRequest(models.Model):
    """One question to one rep about one handoff: how good was this lead?"""

    handoff = _copied(Handoff, related_name="feedback_requests")
    rater = _copied(
        settings.AUTH_USER_MODEL,
        related_name="feedback_requests",
        help_text="The handoff's owner when the feedback was asked for.",
    )
    point = models.CharField(max_length=12, choices=FeedbackPoint.choices)
    point_at = models.DateTimeField(help_text="When the handoff reached the feedback point.")
    asked_at = models.DateTimeField()
    policy = _copied(
        SlaPolicy,
        null=True,
        help_text="The SLA policy version whose feedback points asked (the one that timed the handoff).",
    )
    # Copied from the handoff when asked, so reports group without joining through history.
    definition = _copied(LeadDefinition)
    qualified_at = models.DateTimeField(help_text="When the lead was handed over (the report's period and weeks).")
    lead_source = models.CharField(max_length=255, blank=True)
    segment = models.CharField(max_length=40, blank=True, help_text="The SLA segment that timed the handoff.")
    reject_reason = _copied(ReasonCode, null=True, help_text="Why the rep rejected the lead, when they did.")
    digests = models.PositiveSmallIntegerField(default=0, help_text="Digests that listed it.")
    last_digest_on = models.DateField(null=True, blank=True, help_text="The rep's local date of the last digest.")
    outcome = models.CharField(max_length=10, choices=FeedbackOutcome.choices, default=FeedbackOutcome.PENDING)
    outcome_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-asked_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["handoff", "rater"], name="one_feedback_request_per_handoff_rater"),
        ]
        # The unique (handoff, rater) serves the handoff lookups and the request job's ON CONFLICT; the rep's lists
        # are short. Every index is written for each of the 100,000 requests the job may insert at once: four.
        indexes = [
            # A rep's requests by outcome, oldest question first: what they still have to answer (the digest, the
            # count in the navigation, "Feedback to give") and what they answered (the change window, the API).
            # One index for both, where there were two (a partial one of the pending requests, and rater/outcome):
            # a new request is one entry fewer.
            models.Index(fields=["rater", "outcome", "asked_at"], name="feedback_request_by_rater_idx"),
            # The requests behind a figure of the lead quality report.
            models.Index(fields=["qualified_at"], name="feedback_request_period_idx"),
        ]

    def __str__(self) -> str:
        return f"Feedback on handoff {self.handoff_id} from user {self.rater_id} ({self.get_outcome_display()})"

    @property
    def is_pending(self) -> bool:
        return self.outcome == FeedbackOutcome.PENDING


class LeadFeedback(models.Model):
    """A rep's rating of one lead they handled: 1–5, quality reasons and market signals, an optional note.

    One per handoff and rater, changed in place during the change window; every version is a revision.
    """

    request = models.OneToOneField(FeedbackRequest, on_delete=models.PROTECT, related_name="feedback")
    handoff = models.ForeignKey(Handoff, on_delete=models.PROTECT, related_name="feedback")
    rater = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    rating = models.PositiveSmallIntegerField(validators=[MinValueValidator(RATING_MIN), MaxValueValidator(RATING_MAX)])
    reasons = models.ManyToManyField(
        ReasonCode, blank=True, related_name="+", limit_choices_to={"kind": ReasonCode.Kind.FEEDBACK}
    )
    note = models.TextField(blank=True, max_length=NOTE_MAX_LENGTH)
    # Copied from the request: the terms the handoff was judged and timed by.
    definition = models.ForeignKey(LeadDefinition, on_delete=models.PROTECT, related_name="+")
    policy = models.ForeignKey(SlaPolicy, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    given_at = models.DateTimeField(help_text="When it was first given: the change window runs from here.")
    changed_at = models.DateTimeField()
    revision = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name = "lead feedback"
        verbose_name_plural = "lead feedback"
        constraints = [
            models.UniqueConstraint(fields=["handoff", "rater"], name="one_lead_feedback_per_handoff_rater"),
            models.CheckConstraint(
                condition=Q(rating__gte=RATING_MIN, rating__lte=RATING_MAX), name="lead_feedback_rating_1_to_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rating}/5 on handoff {self.handoff_id}"


class LeadFeedbackRevision(AppendOnly):
    """One version of a feedback, as given: the first answer and every change after it."""

    LOG_NAME = "The feedback history"

    feedback = models.ForeignKey(LeadFeedback, on_delete=models.PROTECT, related_name="revisions")
    revision = models.PositiveSmallIntegerField()
    rating = models.PositiveSmallIntegerField()
    reasons = models.JSONField(default=list, blank=True, help_text="The reason codes given.")
    note = models.TextField(blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    via = models.CharField(max_length=4, choices=Via.choices)
    at = models.DateTimeField()

    class Meta:
        ordering = ["feedback", "revision"]
        constraints = [
            models.UniqueConstraint(fields=["feedback", "revision"], name="one_feedback_revision_number"),
        ]

    def __str__(self) -> str:
        return f"revision {self.revision}: {self.rating}/5"


class FeedbackDigest(Outbox):
    """One rep's digest of one local day: written when their day's 09:00 comes, sent after commit, never twice."""

    rater = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    day = models.DateField(help_text="The rep's local date.")
    listed = models.PositiveSmallIntegerField(default=0, help_text="Requests it listed when it was made.")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["rater", "day"], name="one_feedback_digest_per_rep_day")]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING]),
                name="feedback_digest_due_idx",
            )
        ]

    def __str__(self) -> str:
        return f"Feedback digest of user {self.rater_id} for {self.day}"


class FeedbackTally(models.Model):
    """Requests and ratings counted per day handed over (a date of TIME_ZONE), lead source, SLA segment and lead
    definition: the lead quality report reads a few thousand of these instead of every request of the period.

    Kept by the services that change a request or its feedback, in the same transaction (creation, answer,
    change, expiry, withdrawal); `feedback_tallies_rebuild` recounts them from the requests.
    """

    day = models.DateField()
    lead_source = models.CharField(max_length=255, blank=True)
    segment = models.CharField(max_length=40, blank=True)
    definition = models.ForeignKey(LeadDefinition, on_delete=models.PROTECT, related_name="+", db_index=False)
    # Requests by outcome (withdrawn ones are not counted), and the answered ones by their rating.
    pending = models.IntegerField(default=0)
    answered = models.IntegerField(default=0)
    expired = models.IntegerField(default=0)
    rated_1 = models.IntegerField(default=0)
    rated_2 = models.IntegerField(default=0)
    rated_3 = models.IntegerField(default=0)
    rated_4 = models.IntegerField(default=0)
    rated_5 = models.IntegerField(default=0)

    COUNTS = ("pending", "answered", "expired", "rated_1", "rated_2", "rated_3", "rated_4", "rated_5")

    class Meta:
        ordering = ["day"]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "lead_source", "segment", "definition"], name="one_feedback_tally_per_group"
            )
        ]

    def __str__(self) -> str:
        asked = self.pending + self.answered + self.expired
        return f"{self.day} {self.lead_source or '—'}/{self.segment or '—'}/{self.definition_id}: {asked} asked"


class FeedbackReasonTally(models.Model):
    """Times a reason was given per day handed over, lead source, segment and definition: the feedback reasons
    and market signals of answered requests, and the reject reasons of the rejected leads asked about."""

    day = models.DateField()
    lead_source = models.CharField(max_length=255, blank=True)
    segment = models.CharField(max_length=40, blank=True)
    definition = models.ForeignKey(LeadDefinition, on_delete=models.PROTECT, related_name="+", db_index=False)
    reason = models.ForeignKey(ReasonCode, on_delete=models.PROTECT, related_name="+", db_index=False)
    given = models.IntegerField(default=0)

    COUNTS = ("given",)

    class Meta:
        ordering = ["day"]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "lead_source", "segment", "definition", "reason"],
                name="one_feedback_reason_tally_per_group",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.lead_source or '—'}/{self.segment or '—'}/{self.definition_id}: {self.given}"

