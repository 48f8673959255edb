"""Leads mirrored from the CRM, the agreed lead definition (MQL criteria) and reason codes."""
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from handoff.rules import parse_conditions

from .versioning import FrozenOnceApplied


class Lead(models.Model):
    """The local mirror of one CRM lead. Never hard-deleted: a CRM delete sets `is_deleted`."""

    crm_id = models.CharField("CRM id", max_length=18, unique=True, help_text="18-character Salesforce id.")
    first_name = models.CharField(max_length=40, blank=True)
    last_name = models.CharField(max_length=80, blank=True)
    email = models.CharField(max_length=80, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    mobile_phone = models.CharField(max_length=40, blank=True)
    company = models.CharField(max_length=255, blank=True)
    title = models.CharField(max_length=128, blank=True)
    country = models.CharField(max_length=80, blank=True)
    industry = models.CharField(max_length=255, blank=True)
    lead_source = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=255, blank=True, help_text="The CRM status text.")
    score = models.FloatField(null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_leads",
        help_text="The rep who owns the lead; empty while a queue owns it.",
    )
    crm_owner_id = models.CharField("CRM owner id", max_length=18, blank=True)
    is_converted = models.BooleanField(default=False)
    converted_at = models.DateTimeField(null=True, blank=True)
    is_deleted = models.BooleanField(default=False)
    crm_created_at = models.DateTimeField(null=True, blank=True)
    crm_modified_at = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="Salesforce SystemModstamp of the stored version."
    )
    raw = models.JSONField(default=dict, blank=True, help_text="Every synced CRM field, as received.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-crm_created_at", "-id"]
        indexes = [
            # A person's leads (`owner` and `is_deleted` lookups), and the lead sources among them for the pages' source
            # filter (selectors/handoffs.py `lead_sources_of`): read from the index alone, not from a heap page per
            # lead (a rep's 2,000 leads lie on 2,000 pages).
            models.Index(fields=["owner", "is_deleted", "lead_source"], name="lead_owner_source_idx"),
            models.Index(fields=["-crm_created_at", "-id"], name="lead_newest_idx"),
            # A rep's leads (and a manager's, per team member), newest CRM creation first: GET /api/leads/.
            models.Index(fields=["owner", "-crm_created_at", "-id"], name="lead_owner_newest_idx"),
        ]

    def __str__(self) -> str:
        return self.name or self.crm_id

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


class LeadDefinition(FrozenOnceApplied):
    """One version of the agreed MQL criteria.

    A version that has judged a lead is immutable: revising it creates version N+1
    (see `services.definitions.definition_revise`), so every handoff keeps the terms it was judged by.
    """

    version = models.PositiveIntegerField(unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    conditions = models.JSONField(
        default=list,
        help_text='All must hold. E.g. [{"field": "score", "op": ">=", "value": 60}, '
        '{"field": "email", "op": "is_set"}].',
    )
    is_active = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_definition")
        ]

    TERMS = ("conditions", "version")

    def frozen_message(self) -> str:
        return (
            f"Definition v{self.version} has already judged leads and cannot change; "
            "revise it to create a new version."
        )

    def clean(self) -> None:
        try:
            parse_conditions(self.conditions)
        except ValueError as exc:
            raise ValidationError({"conditions": str(exc)}) from exc

    @property
    def has_judged(self) -> bool:
        return self.pk is not None and self.handoffs.exists()

    is_applied = has_judged


class ReasonCode(models.Model):
    class Kind(models.TextChoices):
        REJECT = "reject", "Reject"
        RECYCLE = "recycle", "Recycle"
        DISPUTE = "dispute", "Dispute"
        FEEDBACK = "feedback", "Feedback"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    code = models.SlugField(max_length=40)
    label = models.CharField(max_length=100)
    requires_note = models.BooleanField(default=False, help_text="A note must explain this reason (e.g. 'other').")
    is_market_signal = models.BooleanField(
        default=False,
        help_text="Feedback only: what the market told the rep (a competitor, a pricing objection, a product gap) "
        "rather than how good the lead was.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "label"]
        constraints = [models.UniqueConstraint(fields=["kind", "code"], name="unique_reason_code_per_kind")]

    def __str__(self) -> str:
        return self.label
