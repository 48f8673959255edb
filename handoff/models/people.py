"""Teams, rep profiles and the roles people play."""
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


class Role(models.TextChoices):
    """Roles are Django groups of these names (created by a data migration)."""

    MARKETER = "marketer", "Marketer"
    SALES_REP = "sales_rep", "Sales rep"
    MANAGER = "manager", "Manager"


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"Unknown time zone {value!r}: use an IANA name such as 'Europe/Berlin'.")


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_teams",
    )
    calendar = models.ForeignKey(
        "handoff.BusinessCalendar",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="teams",
        help_text="The hours and time zone the team works in (its members' SLA clocks); empty: the default calendar.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RepProfile(models.Model):
    """What the app knows about a person beyond the login: CRM identity, team and the calendar they work by.

    Where and when a person works is one thing, their calendar (their own, else their team's, else the default):
    its zone is the zone of their SLA clocks, their digests and mails, and of the times their pages show.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    crm_user_id = models.CharField(
        "CRM user id", max_length=18, unique=True, null=True, blank=True, help_text="Salesforce User id (005…)."
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members")
    is_active = models.BooleanField(default=True, help_text="Inactive reps receive no new leads.")
    calendar = models.ForeignKey(
        "handoff.BusinessCalendar",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reps",
        help_text="The hours and time zone this person works in (SLA clocks, digests, the times pages show); "
        "empty: the team's calendar, else the default.",
    )

    class Meta:
        ordering = ["user__username"]

    def __str__(self) -> str:
        return self.user.get_full_name() or self.user.get_username()
