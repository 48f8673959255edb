"""The demo's people: logins, roles, teams and CRM user ids, one list that seed_demo and the demo CRM both read."""
from __future__ import annotations

from dataclasses import dataclass

from handoff.crm.base import make_id

PASSWORD = "handoff-demo"
EMAIL_DOMAIN = "handoff-demo.example"
# The embedded demo CRM's pod: its users, its queue and its leads have ids no real org has.
CRM_POD = "DM"
# seed_demo's leads have a pod of their own: they are history that lives in no CRM, the embedded one included.
SEED_POD = "SD"
# The values of handoff.models.Role, as plain text: the CRM layer reads the cast and must not import models.
MARKETER, SALES_REP, MANAGER = "marketer", "sales_rep", "manager"


def crm_id(prefix: str, number: int) -> str:
    """An id in the embedded demo CRM (a user 005…, the queue 00G…, a lead 00Q…)."""
    return make_id(prefix, number, pod=CRM_POD)


def seed_id(prefix: str, number: int) -> str:
    """An id of seed_demo's own records, apart from every real org's and from the embedded CRM's."""
    return make_id(prefix, number, pod=SEED_POD)


@dataclass(frozen=True)
class Team:
    name: str
    time_zone: str
    holidays: str  # the country whose public holidays the team keeps
    city: str = ""

    @property
    def calendar_name(self) -> str:
        """The team's business calendar: Mon–Fri 09:00–17:00 in its zone, with its country's public holidays."""
        return f"{self.name} · {self.city} (Mon–Fri 9–17, {self.holidays} holidays)"


TEAMS = (Team("Americas", "America/New_York", "US", "New York"), Team("EMEA", "Europe/Berlin", "DE", "Berlin"))


@dataclass(frozen=True)
class Person:
    """Someone in the demo; `username` None: a CRM user who never had a login here."""

    first_name: str
    last_name: str
    username: str | None = None
    role: str | None = None  # None for a login: the administrator
    team: str | None = None
    time_zone: str = "UTC"
    crm_number: int | None = None
    active: bool = True

    @property
    def crm_user_id(self) -> str | None:
        return crm_id("005", self.crm_number) if self.crm_number else None

    @property
    def email(self) -> str:
        return f"{self.username}@{EMAIL_DOMAIN}"


LOGINS = (
    Person("Ada", "Admin", "admin"),
    Person("Maya", "Okafor", "maya", MARKETER, time_zone="Europe/Berlin", crm_number=1),
    Person("Grace", "Kim", "grace", MANAGER, "Americas", "America/New_York", 2),
    Person("Henrik", "Sørensen", "henrik", MANAGER, "EMEA", "Europe/Berlin", 3),
    Person("Raj", "Patel", "raj", SALES_REP, "Americas", "America/New_York", 4),
    Person("Sofía", "Álvarez", "sofia", SALES_REP, "Americas", "America/New_York", 5),
    Person("Li", "Wei", "li", SALES_REP, "EMEA", "Europe/Berlin", 6),
    Person("Tom", "Becker", "tom", SALES_REP, "EMEA", "Europe/Berlin", 7),
)
# Left the company two weeks into the demo CRM's history; still owns the leads he had, as in real orgs.
FORMER_REP = Person("Kenji", "Watanabe", role=SALES_REP, crm_number=8, active=False)
REPS = tuple(p for p in LOGINS if p.role == SALES_REP)
# The CRM users who own leads in the demo CRM: the reps who log in here, so their leads land with them.
CRM_USERS = (*REPS, FORMER_REP)
# The CRM's lead queue: a lead it owns has no rep yet.
QUEUE_ID = crm_id("00G", 1)

MARKETER_LOGIN = next(p.username for p in LOGINS if p.role == MARKETER)
REPS_OF = {team.name: [p.username for p in REPS if p.team == team.name] for team in TEAMS}
MANAGER_OF = {p.team: p.username for p in LOGINS if p.role == MANAGER}
TEAM_OF = {p.username: p.team for p in LOGINS if p.team}
