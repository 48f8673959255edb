"""What every notice outbox row records: written in its cause's transaction, sent after commit, each channel once."""
from django.db import models


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (gave up after retries)"


class Outbox(models.Model):
    """A message owed to people; the sender in `services/notifications.py` claims, delivers and records it.

    Each channel records its own delivery, so a retry after a partial failure resends only what failed.
    """

    Status = OutboxStatus

    status = models.CharField(max_length=8, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    recipients = models.TextField(blank=True, help_text="Who it went to, filled when sent.")
    email_sent_at = models.DateTimeField(null=True, blank=True)
    slack_sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_until = models.DateTimeField(null=True, blank=True, help_text="A sender is working on it until then.")
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
