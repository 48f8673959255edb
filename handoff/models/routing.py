"""Routing: which team and rep a lead without an owner goes to.

Versioned routing rules (ordered territories → team, a catch-all team last), each team's setting, each rep's share
(weight, caps) and the counters that keep it fair, reps' away periods, where each handoff stands in routing and the
notices that tell a manager their queue holds leads nobody can take.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from handoff.territories import parse_territories

from .handoffs import Handoff
from .outbox import Outbox
from .people import Team
from .versioning import FrozenOnceApplied

MAX_WEIGHT = 100
MAX_CAP = 10_000
MAX_AWAY_DAYS = 366


class RoutingRules(FrozenOnceApplied):
    """One version of the routing rules: an ordered list of territories, each → a team; the catch-all team last.

    A version that has routed a lead is immutable: revising it creates version N+1 (`services.routing`), and each
    handoff's routing records the version that routed it.
    """

    version = models.PositiveIntegerField(unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    territories = models.JSONField(
        default=list,
        blank=True,
        help_text='First match wins. [{"name": "DACH", "conditions": [{"field": "country", "op": "in", "value": '
        '["DE", "AT", "CH"]}], "team": "EMEA"}, …]: conditions as in the lead definition (all must hold), plus '
        '"segment" (the lead\'s SLA segment); "team" by name or id (stored as the id).',
    )
    catch_all_team = models.ForeignKey(
        Team, on_delete=models.PROTECT, related_name="+", help_text="Where a lead in no territory goes."
    )
    is_active = models.BooleanField(default=False)
    first_routed_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When this version first routed a lead: frozen from then on."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    TERMS = ("territories", "catch_all_team_id", "version")

    class Meta:
        ordering = ["-version"]
        verbose_name = "routing rules version"
        verbose_name_plural = "routing rules"
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_routing_rules")
        ]

    def frozen_message(self) -> str:
        return (
            f"Routing rules v{self.version} have already routed leads and cannot change; "
            "revise them to create a new version."
        )

    @property
    def is_applied(self) -> bool:
        return self.pk is not None and type(self).objects.filter(pk=self.pk, first_routed_at__isnull=False).exists()

    def clean(self) -> None:
        """Validate the territories and store each team as its id; ValidationError names `territories`."""
        try:
            parsed = parse_territories(self.territories)
        except ValueError as exc:
            raise ValidationError({"territories": str(exc)}) from exc
        by_id = dict(Team.objects.values_list("pk", "pk"))
        by_name = {name.casefold(): pk for pk, name in Team.objects.values_list("pk", "name")}
        stored = []
        for i, (territory, raw) in enumerate(zip(parsed, self.territories, strict=True)):
            team = territory.team
            team_id = by_id.get(team) if isinstance(team, int) else by_name.get(str(team).strip().casefold())
            if team_id is None:
                raise ValidationError({"territories": f"territory {i + 1}: no team {team!r}."})
            stored.append({**raw, "name": territory.name, "team": team_id})
        self.territories = stored


class TeamRouting(models.Model):
    """A team's routing setting."""

    team = models.OneToOneField(Team, primary_key=True, on_delete=models.CASCADE, related_name="routing")
    skip_outside_hours = models.BooleanField(
        default=False,
        help_text="Give leads only to reps inside their working hours right now (their calendar: hours, holidays); "
        "otherwise a rep gets leads whenever they are not away.",
    )

    class Meta:
        verbose_name = "team routing"

    def __str__(self) -> str:
        return f"Routing of {self.team}"


class RepRouting(models.Model):
    """A rep's share of their team's round robin, and the counters that keep it fair.

    `credit` is the rep's place in the smooth weighted round robin: each lead routed adds every candidate's weight
    to their credit and takes the candidates' total weight from the rep who gets it (the highest credit). A rep who
    is away or capped is no candidate, so their credit stands still: back from leave they take their share from
    then on, never a backlog. A manager's reassignment counts the same way.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="routing"
    )
    weight = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_WEIGHT)],
        help_text="Relative share: a rep at 2 gets twice the leads of 1.",
    )
    daily_cap = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(MAX_CAP)],
        help_text="At most this many leads a day (the rep's day); empty: no cap.",
    )
    open_cap = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(MAX_CAP)],
        help_text="No new lead while the rep holds this many open handoffs; empty: no cap.",
    )
    credit = models.BigIntegerField(default=0, editable=False)
    assigned = models.PositiveIntegerField(default=0, editable=False, help_text="Leads given to the rep, all told.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "rep routing"
        constraints = [models.CheckConstraint(condition=Q(weight__gte=1), name="rep_routing_weight_positive")]

    def __str__(self) -> str:
        return f"Routing of {self.user}"


class RepRoutingDay(models.Model):
    """Leads a rep was given on one day of theirs (routed or reassigned by hand): the daily cap's count."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField(help_text="The rep's local date.")
    assigned = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="one_routing_day_per_rep")]

    def __str__(self) -> str:
        return f"{self.user} {self.day}: {self.assigned}"


class AwayPeriod(models.Model):
    """A rep out of office, from one date to another (both included, in the rep's zone): no leads routed to them."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="away_periods",
        limit_choices_to={"groups__name": "sales_rep"},
        help_text="A sales rep.",
    )
    starts_on = models.DateField()
    ends_on = models.DateField(help_text="The last day away (included).")
    note = models.CharField(max_length=200, blank=True)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__gte=models.F("starts_on")), name="away_ends_after_it_starts")
        ]
        indexes = [models.Index(fields=["user", "ends_on"], name="away_user_end_idx")]

    def __str__(self) -> str:
        return f"{self.user} away {self.starts_on}–{self.ends_on}"

    def clean(self) -> None:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValidationError({"ends_on": "An away period cannot end before it starts."})
        if self.starts_on and self.ends_on and (self.ends_on - self.starts_on).days > MAX_AWAY_DAYS:
            raise ValidationError({"ends_on": f"An away period lasts at most {MAX_AWAY_DAYS} days."})


class RoutingStatus(models.TextChoices):
    QUEUED = "queued", "Waiting in the team queue"
    ROUTED = "routed", "Routed"
    TAKEN = "taken", "Given to a rep otherwise"


class HandoffRouting(models.Model):
    """Where one handoff stands in routing: the version and territory that matched, its team, who got it.

    One row per handoff, rewritten by each routing of it; every decision is also in its event log.
    """

    handoff = models.OneToOneField(Handoff, on_delete=models.CASCADE, related_name="routing")
    rules = models.ForeignKey(
        RoutingRules, on_delete=models.PROTECT, related_name="routings", help_text="The version that routed it."
    )
    territory = models.CharField(max_length=100, blank=True, help_text="Empty: the catch-all team's.")
    team = models.ForeignKey(Team, null=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=8, choices=RoutingStatus.choices, default=RoutingStatus.QUEUED)
    queued_at = models.DateTimeField(help_text="When it last came to the team queue.")
    routed_at = models.DateTimeField(null=True, blank=True)
    routed_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    attempts = models.PositiveIntegerField(default=0, help_text="Routing passes that looked at it this time.")
    excluded = models.JSONField(default=list, blank=True, help_text="User ids of reps who breached it: never again.")
    manager_told_at = models.DateTimeField(
        null=True, blank=True, help_text="When the team's manager was told no rep could take it (once per wait)."
    )

    class Meta:
        verbose_name = "handoff routing"
        indexes = [
            models.Index(fields=["team", "queued_at"], condition=Q(status="queued"), name="routing_queue_idx"),
        ]

    def __str__(self) -> str:
        return f"Routing of handoff {self.handoff_id} ({self.get_status_display()})"


class RoutingNotice(Outbox):
    """Tells a team's manager that leads wait in their queue because no rep can take them: once per lead."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    handoff_ids = models.JSONField(default=list)
    reasons = models.JSONField(default=dict, blank=True, help_text="username → why they could not take leads.")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="routing_notice_due_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{len(self.handoff_ids)} leads waiting in {self.team}'s queue"
