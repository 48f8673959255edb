"""Routing fixtures: two teams of reps with their managers, routing rules in force, leads from a queue."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User

from handoff.models import HandoffEvent, RoutingRules, Team
from handoff.services import handoffs as machine
from handoff.services.actors import Actor
from handoff.services.routing import rep_routing_update, routing_rules_save
from tests.factories import make_lead, make_user

MONDAY_MORNING = datetime(2026, 3, 9, 10, 0, tzinfo=ZoneInfo("UTC"))


@dataclass
class Org:
    emea: Team
    americas: Team
    mia: User  # EMEA's manager
    otto: User  # Americas' manager
    ana: User
    ben: User
    cyd: User  # EMEA reps
    dan: User
    eve: User  # Americas reps
    marketer: User
    rules: RoutingRules

    def weights(self, **weights: int) -> None:
        for username, weight in weights.items():
            rep_routing_update(rep=getattr(self, username), actor=Actor.person(self.mia), weight=weight)


TERRITORIES = [
    {"name": "DACH", "conditions": [{"field": "country", "op": "in", "value": ["DE", "AT", "CH"]}], "team": "EMEA"},
    {"name": "UK", "conditions": [{"field": "country", "op": "=", "value": "GB"}], "team": "EMEA"},
]


@pytest.fixture
def org(db) -> Org:
    return build_org()


def build_org() -> Org:
    """EMEA (mia; ana, ben, cyd) and Americas (otto; dan, eve), a marketer, rules v1 in force."""
    emea, americas = Team.objects.create(name="EMEA"), Team.objects.create(name="Americas")
    mia = make_user("mia", "manager", team=emea)
    otto = make_user("otto", "manager", team=americas)
    Team.objects.filter(pk=emea.pk).update(manager=mia)
    Team.objects.filter(pk=americas.pk).update(manager=otto)
    emea.refresh_from_db()
    americas.refresh_from_db()
    reps = {name: make_user(name, "sales_rep", team=emea) for name in ("ana", "ben", "cyd")}
    reps |= {name: make_user(name, "sales_rep", team=americas) for name in ("dan", "eve")}
    rules = routing_rules_save(
        rules=RoutingRules(name="By region", territories=TERRITORIES, catch_all_team=americas, is_active=True)
    )
    return Org(emea=emea, americas=americas, mia=mia, otto=otto, marketer=make_user("max", "marketer"), rules=rules,
               **reps)


def queue_leads(n: int, **fields) -> list[int]:
    """n leads owned by a CRM queue (no rep here), from Germany unless said otherwise; their ids."""
    return [make_lead(owner=None, **{"country": "DE", **fields}).pk for _ in range(n)]


def qualify(lead_ids: list[int], **kwargs):
    """The rule qualifies them (as a sync page does): each handoff starts without an owner and is routed at once."""
    return machine.handoffs_qualify(lead_ids=lead_ids, actor=Actor.rule(), **kwargs)


def route_events(handoff) -> list[HandoffEvent]:
    return list(HandoffEvent.objects.filter(handoff=handoff, action="route").order_by("at", "id"))
