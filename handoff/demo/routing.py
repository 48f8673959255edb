"""The demo's routing: rules by region, reps' weights and caps, a rep away, and the leads the history left in the
queue routed now, so a newcomer sees routed leads, each decision in the lead's history, and a queue that waits."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User

from handoff.models import Handoff, RoutingRules, Team
from handoff.services.actors import Actor
from handoff.services.routing import away_period_set, handoffs_route, rep_routing_update, routing_rules_save

from . import cast
from .names import PLACES

# Leads from Europe, the Middle East and Africa go to EMEA; the rest (the Americas, Asia-Pacific) to the Americas.
EMEA_COUNTRIES = sorted({country for _, country, _ in PLACES["EMEA"]})
RULES = {
    "name": "By region",
    "description": "EMEA's countries to EMEA; everyone else to the Americas.",
    "territories": [
        {
            "name": "Europe, Middle East & Africa",
            "conditions": [{"field": "country", "op": "in", "value": EMEA_COUNTRIES}],
            "team": "EMEA",
        },
    ],
}
AWAY_DAYS = 4  # tom is at a trade show this week
LI_DAILY_CAP = 2  # li takes two new leads a day at most: EMEA's other leads wait in its queue


def routing_seed(*, users: dict[str, User], now: datetime) -> None:
    """Put routing rules in force, set the reps' shares, and route the leads the history left in the queue at `now`.

    As the rest of the seed, this replays: the leads' CRM is no real org, so no OwnerId is owed to it.
    """
    routing_rules_save(
        rules=RoutingRules(
            **RULES, catch_all_team=Team.objects.get(name="Americas"), is_active=True, created_by=users["admin"]
        )
    )
    grace, henrik = Actor.person(users[cast.MANAGER_OF["Americas"]]), Actor.person(users[cast.MANAGER_OF["EMEA"]])
    rep_routing_update(rep=users["sofia"], actor=grace, weight=2)
    rep_routing_update(rep=users["li"], actor=henrik, daily_cap=LI_DAILY_CAP)
    today = now.astimezone(ZoneInfo("Europe/Berlin")).date()
    away_period_set(rep=users["tom"], actor=Actor.person(users["tom"]), starts_on=today,
                    ends_on=today + timedelta(days=AWAY_DAYS), note="Trade show in Barcelona")
    waiting = list(
        Handoff.objects.filter(owner__isnull=True, state__in=["qualified", "accepted"]).order_by("pk").values_list(
            "pk", flat=True
        )
    )
    handoffs_route(handoff_ids=waiting, at=now, actor=Actor.routing().replaying())
