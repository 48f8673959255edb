"""Small builders for test data: plain functions over the services, no magic."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from django.contrib.auth.models import Group, User
from django.utils import timezone

from handoff.models import BusinessCalendar, Lead, RepProfile, Role, Team

_seq = itertools.count(1)
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def crm_id(prefix: str = "00Q") -> str:
    """A unique 18-character Salesforce-shaped id."""
    n = next(_seq)
    digits = []
    for _ in range(12):
        n, r = divmod(n, 62)
        digits.append(_BASE62[r])
    body = prefix + "xx" + "".join(reversed(digits))
    return (body + "AAAAAAAAAAAAAAAAAA")[:18]


def make_user(
    username: str, *roles: Role, team: Team | None = None, calendar: BusinessCalendar | None = None, **extra
) -> User:
    user = User.objects.create_user(username=username, password="pw", email=f"{username}@example.com", **extra)
    for role in roles:
        user.groups.add(Group.objects.get(name=role))
    RepProfile.objects.create(user=user, team=team, calendar=calendar, crm_user_id=crm_id("005"))
    return user


def zone_calendar(zone: str, country: str = "") -> BusinessCalendar:
    """Mon–Fri 09:00–17:00 in this zone (with this country's public holidays): where someone works."""
    return BusinessCalendar.objects.get_or_create(
        name=f"Office {zone} {country}".strip(), defaults={"time_zone": zone, "holiday_country": country}
    )[0]


def make_lead(owner: User | None = None, **fields) -> Lead:
    defaults = {
        "crm_id": crm_id(),
        "first_name": "Ada",
        "last_name": f"Lovelace {next(_seq)}",
        "email": "ada@example.com",
        "company": "Analytical Engines",
        "country": "GB",
        "lead_source": "Web",
        "status": "Open - Not Contacted",
        "score": 75.0,
        "crm_created_at": timezone.now() - timedelta(days=1),
        "crm_modified_at": timezone.now() - timedelta(hours=1),
    }
    defaults.update(fields)
    return Lead.objects.create(owner=owner, crm_owner_id=owner.profile.crm_user_id if owner else "", **defaults)


def at(text: str) -> datetime:
    """An aware datetime from ISO text (UTC when no offset is given)."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=timezone.UTC if hasattr(timezone, "UTC") else None)
