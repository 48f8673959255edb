"""Sync bookkeeping: runs, the watermark per CRM object, the one-sync-at-a-time lease, the write-back outbox."""
from django.db import models


class SyncRun(models.Model):
    """One run of the sync, as it went: what it covered, what it changed and how it ended."""

    class Kind(models.TextChoices):
        INCREMENTAL = "incremental", "Incremental pull"
        FULL = "full", "Full import"
        RECONCILE = "reconcile", "Reconcile"

    class Outcome(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        # Stopped on purpose before finishing (API budget, rate limit); the next run carries on.
        STOPPED = "stopped", "Stopped"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    watermark_before = models.DateTimeField(null=True, blank=True)
    watermark_after = models.DateTimeField(null=True, blank=True)
    used_bulk = models.BooleanField(default=False, help_text="Read through Bulk API 2.0.")
    fetched = models.PositiveIntegerField(default=0, help_text="Leads read from the CRM.")
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    qualified = models.PositiveIntegerField(default=0)
    converted = models.PositiveIntegerField(default=0, help_text="Open handoffs converted because the CRM converted.")
    reassigned = models.PositiveIntegerField(default=0, help_text="Open handoffs reassigned to the new CRM owner.")
    closed = models.PositiveIntegerField(default=0, help_text="Open handoffs closed because the lead was deleted.")
    api_calls = models.PositiveIntegerField(default=0, help_text="HTTP requests this run made.")
    api_used = models.PositiveIntegerField(null=True, blank=True, help_text="The org's daily API usage at the end.")
    api_limit = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.RUNNING)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["kind", "-started_at"], name="syncrun_kind_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.started_at:%Y-%m-%d %H:%M} ({self.get_outcome_display()})"


class SyncState(models.Model):
    """Where the sync of one CRM object stands. Only advanced in the transaction that commits the rows."""

    sobject = models.CharField(max_length=40, unique=True)
    watermark = models.DateTimeField(
        null=True, blank=True, help_text="SystemModstamp of the newest committed row; the next pull reads >= it."
    )
    deletes_checked_until = models.DateTimeField(
        null=True, blank=True, help_text="Deletions up to this moment are applied; the next getDeleted starts here."
    )
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_reconcile_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.sobject} @ {self.watermark}"


class SyncLease(models.Model):
    """A named lease held by one worker; a crashed holder's lease simply expires."""

    name = models.CharField(max_length=40, unique=True)
    holder = models.CharField(max_length=64)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder} until {self.expires_at}"


class WriteBack(models.Model):
    """A change an app action owes the CRM, recorded in the action's transaction and sent after commit."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Skipped (lead converted or deleted in the CRM)"
        SUPERSEDED = "superseded", "Superseded by a later change"
        FAILED = "failed", "Failed (gave up after retries)"

    lead = models.ForeignKey("handoff.Lead", on_delete=models.PROTECT, related_name="writebacks")
    event = models.ForeignKey(
        "handoff.HandoffEvent", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=16)
    changes = models.JSONField(help_text="CRM field name → value to write.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    error_code = models.CharField(max_length=80, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="writeback_due_idx")]

    def __str__(self) -> str:
        return f"{self.action} → {self.lead} ({self.get_status_display()})"
