"""Demo data: a login per role, two teams, a revised lead definition and eight weeks of handoff history."""
from __future__ import annotations

import math
import random
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import groupby

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from handoff import businesstime
from handoff.crm import demo as crm_demo
from handoff.crm.base import make_id
from handoff.exceptions import InvalidInput
from handoff.models import Handoff, HandoffEvent, Lead, RepProfile, Role, Team, WriteBack
from handoff.services import handoffs as machine
from handoff.services.actors import Actor
from handoff.services.definitions import definition_create

DEMO_PASSWORD = "handoff-demo"
DEFAULT_LEADS = 500
DEFAULT_SEED = 20240611
MIN_LEADS, MAX_LEADS = 50, 5000
HISTORY = timedelta(weeks=8)
# The lead definition was revised this long ago: older handoffs were judged by v1, newer ones by v2.
REVISED_AGO = timedelta(weeks=4)
V2_CONDITIONS = [
    {"field": "score", "op": ">=", "value": 65},
    {"field": "email", "op": "is_set"},
    {"field": "lead_source", "op": "not_in", "value": ["Purchased List"]},
]
# Pod "SD" keeps demo ids apart from every real org's and from the embedded demo CRM's ("DM").
ID_POD = "SD"


# ---------------------------------------------------------------------------------------------
# People
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DemoTeam:
    name: str
    time_zone: str
    holidays: str


TEAMS = (DemoTeam("Americas", "America/New_York", "US"), DemoTeam("EMEA", "Europe/Berlin", "DE"))


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    role: Role | None
    team: str | None = None
    time_zone: str = "UTC"
    crm_number: int | None = None

    @property
    def role_label(self) -> str:
        return self.role.label if self.role else "Admin (superuser)"


DEMO_USERS = (
    DemoUser("admin", "Ada", "Admin", None),
    DemoUser("maya", "Maya", "Okafor", Role.MARKETER, time_zone="Europe/Berlin", crm_number=1),
    DemoUser("grace", "Grace", "Kim", Role.MANAGER, "Americas", "America/New_York", 2),
    DemoUser("henrik", "Henrik", "Sørensen", Role.MANAGER, "EMEA", "Europe/Berlin", 3),
    DemoUser("raj", "Raj", "Patel", Role.SALES_REP, "Americas", "America/New_York", 4),
    DemoUser("sofia", "Sofía", "Álvarez", Role.SALES_REP, "Americas", "America/New_York", 5),
    DemoUser("li", "Li", "Wei", Role.SALES_REP, "EMEA", "Europe/Berlin", 6),
    DemoUser("tom", "Tom", "Becker", Role.SALES_REP, "EMEA", "Europe/Berlin", 7),
)
MARKETER = "maya"
REPS = {team.name: [u.username for u in DEMO_USERS if u.role == Role.SALES_REP and u.team == team.name]
        for team in TEAMS}
MANAGER_OF = {u.team: u.username for u in DEMO_USERS if u.role == Role.MANAGER}
TEAM_OF = {u.username: u.team for u in DEMO_USERS if u.team}

def sf_id(prefix: str, number: int) -> str:
    """A valid 18-character Salesforce id in the seed's own pod, apart from the embedded CRM's ids."""
    return make_id(prefix, number, pod=ID_POD)


QUEUE_CRM_ID = crm_demo.QUEUE_ID


def demo_logins() -> list[DemoUser]:
    return list(DEMO_USERS)


def demo_is_seeded() -> bool:
    """The demo users are created in the same transaction as the history, so their presence means both."""
    return User.objects.filter(username__in=[u.username for u in DEMO_USERS]).count() == len(DEMO_USERS)


def users_create_demo() -> dict[str, User]:
    """The demo cast, its two teams and their profiles; refuses to take over a user name already in use."""
    names = [u.username for u in DEMO_USERS]
    taken = sorted(User.objects.filter(username__in=names).values_list("username", flat=True))
    if taken:
        raise InvalidInput(
            f"Cannot seed the demo: user name(s) {', '.join(taken)} already exist and are not demo users.",
            field="username",
        )
    teams = {t.name: Team.objects.get_or_create(name=t.name)[0] for t in TEAMS}
    # They share one password, so one hash serves all (hashing per user costs a second each).
    password = make_password(DEMO_PASSWORD)
    User.objects.bulk_create(
        User(
            username=u.username,
            first_name=u.first_name,
            last_name=u.last_name,
            email=f"{u.username}@handoff-demo.example",
            password=password,
            is_staff=u.role is None,
            is_superuser=u.role is None,
        )
        for u in DEMO_USERS
    )
    users = User.objects.in_bulk(names, field_name="username")
    groups = Group.objects.in_bulk([role.value for role in Role], field_name="name")
    User.groups.through.objects.bulk_create(
        User.groups.through(user_id=users[u.username].pk, group_id=groups[u.role].pk) for u in DEMO_USERS if u.role
    )
    RepProfile.objects.bulk_create(
        RepProfile(
            user=users[u.username],
            team=teams.get(u.team),
            time_zone=u.time_zone,
            crm_user_id=make_id("005", u.crm_number, pod="DM") if u.crm_number else None,
        )
        for u in DEMO_USERS
    )
    for name, manager in MANAGER_OF.items():
        Team.objects.filter(pk=teams[name].pk).update(manager=users[manager])
    return users


# ---------------------------------------------------------------------------------------------
# Leads
# ---------------------------------------------------------------------------------------------
FIRST_NAMES = [
    "Olivia", "Liam", "Emma", "Noah", "Sofía", "Lucas", "Mia", "Elías", "Léa", "Hugo", "Anna", "Jonas", "Zoë",
    "Isabella", "Mohammed", "Fatima", "Yusuf", "Ananya", "Arjun", "Chiara", "Marco", "Ingrid", "Sven", "Zofia",
    "Jakub", "Camila", "Diego", "Grace", "Samuel", "Nora", "Oscar", "Amara", "Kwame", "Aoife", "Seán", "Eva",
    "Björn", "Agnieszka", "João", "Inês", "Renée", "François", "Jürgen", "Małgorzata", "Ümit", "Daniel", "Laura",
]
LAST_NAMES = [
    "Smith", "Johnson", "Müller", "Schmidt", "Martin", "Bernard", "Rossi", "Bianchi", "García", "Fernández",
    "Kowalski", "Nowak", "Jansen", "de Vries", "Andersson", "Nilsson", "O'Brien", "Murphy", "Kim", "Chen",
    "Patel", "Sharma", "Okafor", "Mensah", "Silva", "Gonçalves", "Novák", "Horváth", "Dubois", "Lefèvre",
    "Hansen", "Ødegaard", "Costa", "Ferreira", "Cohen", "Brown", "Wilson", "Nguyen", "Yılmaz", "Åberg",
    "Żuławski", "Peña", "Brontë", "Schäfer",
]
COMPANY_WORDS = [
    "Northwind", "Bluefin", "Cedar", "Helix", "Quantum", "Summit", "Lumen", "Orbit", "Harbor", "Vertex",
    "Juniper", "Falcon", "Granite", "Nimbus", "Aurora", "Pioneer", "Atlas", "Beacon", "Copper", "Meridian",
    "Fjord", "Élan", "Söderberg", "Córdoba", "Zephyr",
]
COMPANY_KINDS = [
    "Analytics", "Logistics", "Health", "Robotics", "Foods", "Energy", "Systems", "Labs", "Capital", "Retail",
    "Software", "Manufacturing", "Media", "Biotech", "Networks",
]
SUFFIXES = {"Americas": ["Inc.", "LLC", "Corp.", "Ltda.", "S.A. de C.V."], "EMEA": ["GmbH", "Ltd", "SA", "BV",
                                                                                    "AB", "S.p.A.", "plc", "AG"]}
TITLES = [
    "Head of Marketing", "VP Sales", "Chief Technology Officer", "Operations Manager", "IT Director",
    "Procurement Lead", "Data Analyst", "Founder & CEO", "Head of Growth", "Finance Director", "Product Manager",
    "Engineering Manager", "Customer Success Lead", "Office Manager", "Directeur commercial", "Geschäftsführer",
]
# Region -> (city, country, calling code).
PLACES = {
    "Americas": [
        ("New York", "United States", 1), ("Austin", "United States", 1), ("Chicago", "United States", 1),
        ("San Francisco", "United States", 1), ("Toronto", "Canada", 1), ("Montréal", "Canada", 1),
        ("São Paulo", "Brazil", 55), ("Ciudad de México", "Mexico", 52), ("Bogotá", "Colombia", 57),
    ],
    "EMEA": [
        ("London", "United Kingdom", 44), ("Manchester", "United Kingdom", 44), ("Berlin", "Germany", 49),
        ("München", "Germany", 49), ("Paris", "France", 33), ("Lyon", "France", 33), ("Madrid", "Spain", 34),
        ("Milano", "Italy", 39), ("Amsterdam", "Netherlands", 31), ("Stockholm", "Sweden", 46),
        ("Kraków", "Poland", 48), ("Dublin", "Ireland", 353), ("Zürich", "Switzerland", 41),
        ("København", "Denmark", 45), ("Dubai", "United Arab Emirates", 971),
    ],
}
INDUSTRIES = [
    "Technology", "Finance", "Healthcare", "Manufacturing", "Retail", "Education", "Energy", "Telecommunications",
    "Media", "Biotechnology", "Transportation", "Consulting",
]
# Source -> weight among incoming leads.
LEAD_SOURCES = {
    "Web": 26,
    "Demo Request": 12,
    "Webinar": 14,
    "Trade Show": 10,
    "Partner Referral": 8,
    "Content Download": 18,
    "Purchased List": 12,
}
HOT_SOURCES = ("Demo Request", "Partner Referral")
STATUS_OPEN, STATUS_WORKING, STATUS_CONVERTED, STATUS_NOT_CONVERTED = (
    "Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted",
)


# Letters that Unicode does not decompose into a base letter and an accent.
_UNDECOMPOSED = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "ı": "i", "đ": "d"})


def _ascii(text: str) -> str:
    """A name as it appears in an email address: 'Żuławski' -> 'zulawski', "O'Brien" -> 'obrien'."""
    plain = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSED)).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def _sf_time(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000") if moment else None


# ---------------------------------------------------------------------------------------------
# Stories: what happens to each lead, as timed steps through the state machine
# ---------------------------------------------------------------------------------------------
# Story kind -> (share of leads, the outcome of each episode). The first episodes of "requalified" and "third"
# end recycled; their last outcome is drawn from FINALS.
KINDS: dict[str, tuple[int, tuple[str, ...]]] = {
    "untagged": (10, ()),
    "waiting": (7, ("waiting",)),
    "queue": (3, ("waiting",)),
    "queue_assigned": (3, ("accepted",)),
    "working": (11, ("accepted",)),
    "converted": (15, ("converted",)),
    "rejected": (8, ("rejected",)),
    "disputed": (4, ("disputed",)),
    "upheld": (3, ("upheld",)),
    "overturned": (4, ("overturned",)),
    "recycled": (8, ("recycled",)),
    "requalified": (12, ("recycled", "final")),
    "third": (3, ("recycled", "recycled", "final")),
    "closed": (3, ("closed",)),
}
FINALS = ("waiting", "accepted", "converted", "converted", "rejected", "recycled")
# Stories that end in these states are still in progress, so they happened recently.
RECENT = {"qualified": timedelta(days=4), "accepted": timedelta(days=12), "disputed": timedelta(days=6)}

REJECT_REASONS = {
    "wrong_persona": 4, "no_budget": 4, "duplicate": 2, "bad_contact_data": 2, "wrong_region": 1, "student": 1,
    "competitor": 1, "other": 2,
}
REJECT_NOTES = [
    "Existing customer, belongs to account management.",
    "Consultant researching for a client; no project of their own.",
    "Asked only for the whitepaper, said so on the phone.",
    "Company of 3 people, far below our segment.",
]
DISPUTE_REASONS = {"meets_definition": 3, "reason_wrong": 2, "not_contacted": 2, "other": 1}
DISPUTE_NOTES = [
    "Attended two webinars and asked about pricing in the chat.",
    "The budget owner is her boss; she is the evaluator we want.",
]
QUALIFY_NOTES = [
    "Asked for pricing at the booth.",
    "Stayed for the whole webinar and asked two questions.",
    "Downloaded three guides this month; good fit.",
    "Referred by our partner; expects a call this week.",
    "Replied to the nurture email asking for a demo.",
]
TOUCH_NOTES = {
    ("call", "attempt"): ["Voicemail left.", "No answer.", ""],
    ("email", "attempt"): ["Sent intro email with two time slots.", "Follow-up email with the case study.", ""],
    ("call", "connected"): ["Good call: evaluating this quarter.", "Spoke briefly, wants a proposal."],
    ("meeting", "connected"): ["Demo done; looping in their IT lead.", "Discovery meeting, budget confirmed."],
}
RESOLVE_NOTES = {
    "uphold": "The rejection stands: the contact is not a buyer.",
    "overturn": "Meets the definition; please work it.",
}


@dataclass(frozen=True)
class Step:
    at: datetime
    action: str
    actor: str
    lead: int
    params: tuple[tuple[str, str], ...] = ()


@dataclass
class LeadPlan:
    """One demo lead: its CRM fields as created, its story, and the CRM fields the story ends with."""

    index: int
    kind: str
    region: str
    rep: str
    by_rule: bool
    fields: dict
    queue: bool = False
    steps: list[Step] = field(default_factory=list)
    final: dict = field(default_factory=dict)


@dataclass
class _Story:
    """Builds one lead's steps: each action a realistic (mostly business-hour) delay after the previous one."""

    rng: random.Random
    plan: LeadPlan
    calendars: dict[str, businesstime.Calendar]
    t: datetime
    state: str = ""
    touched: bool = False
    converted_at: datetime | None = None
    deleted: bool = False
    owner: str | None = None

    def work(self, hours: float, who: str) -> None:
        """Move on by business hours of the person's team (the marketer works EMEA hours)."""
        cal = self.calendars[TEAM_OF.get(who, "EMEA")]
        self._move(businesstime.add(self.t, timedelta(hours=hours), cal))

    def wall(self, minutes: float, *, tick: int = 0) -> None:
        """Move on by wall-clock minutes (the sync and the rule run around the clock), to the next tick."""
        moved = self.t + timedelta(minutes=minutes)
        if tick:
            moved += timedelta(minutes=-moved.minute % tick, seconds=-moved.second)
        self._move(moved)

    def _move(self, moment: datetime) -> None:
        # Every step of a lead comes strictly after the one before, so its event log reads in order.
        self.t = max(moment.astimezone(UTC).replace(microsecond=0), self.t + timedelta(minutes=1))

    def do(self, action: str, actor: str, state: str, **params: str) -> None:
        self.plan.steps.append(Step(self.t, action, actor, self.plan.index, tuple(sorted(params.items()))))
        self.state = state

    def pick(self, weights: dict[str, int]) -> str:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]


def _episode(s: _Story, outcome: str, *, first: bool) -> None:
    rng, plan, rep = s.rng, s.plan, s.plan.rep
    manager = MANAGER_OF[plan.region]
    if not first:
        # Back in nurture for a while, then the lead shows interest again.
        s.wall(rng.uniform(5, 14) * 24 * 60)
    if plan.by_rule:
        s.wall(rng.uniform(2, 12), tick=5)
        s.do("qualify", "rule", "qualified")
    else:
        s.work(rng.uniform(0.3, 14), MARKETER)
        s.do("qualify", MARKETER, "qualified", note=rng.choice(QUALIFY_NOTES))
    s.owner = None if plan.queue else rep
    if plan.queue and outcome != "waiting":
        s.work(rng.uniform(0.5, 6), manager)
        s.do("reassign", manager, "qualified", owner=rep, note="Picked from the queue.")
        s.owner = rep
    if outcome == "waiting":
        return
    if outcome == "closed":
        if rng.random() < 0.5:
            _accept(s)
        s.wall(rng.uniform(1, 6) * 24 * 60, tick=5)
        s.do("close", "sync", "closed", note="Deleted in Salesforce.")
        s.deleted = True
        return
    if outcome in ("rejected", "disputed", "upheld", "overturned"):
        _reject(s)
        if outcome == "rejected":
            return
        s.work(rng.uniform(1, 16), MARKETER)
        reason = s.pick(DISPUTE_REASONS)
        note = rng.choice(DISPUTE_NOTES) if reason == "other" or rng.random() < 0.5 else ""
        s.do("dispute", MARKETER, "disputed", reason=reason, note=note)
        if outcome == "disputed":
            return
        s.work(rng.uniform(2, 20), manager)
        decision = "uphold" if outcome == "upheld" else "overturn"
        s.do("resolve", manager, "rejected" if decision == "uphold" else "qualified", decision=decision,
             note=RESOLVE_NOTES[decision])
        if outcome == "upheld":
            return
        outcome = rng.choice(["accepted", "converted"])
    if outcome == "recycled":
        _recycle(s)
        return
    _accept(s)
    _touches(s, attempts=rng.choice([0, 1, 1, 2, 3]), connect=outcome == "converted" or rng.random() < 0.4)
    if outcome == "converted":
        if rng.random() < 0.3:
            # The rep converted the lead in Salesforce; the sync brings the conversion in.
            s.wall(rng.uniform(1, 8) * 24 * 60, tick=5)
            s.do("convert", "sync", "converted", note="Converted in Salesforce.")
        else:
            s.work(rng.uniform(4, 60), rep)
            s.do("convert", rep, "converted", note="Opportunity created.")
        s.converted_at = s.t


def _accept(s: _Story) -> None:
    hot = s.plan.fields["lead_source"] in HOT_SOURCES
    # Mostly within the working day; a tail of slow accepts that miss a 24-business-hour SLA.
    delay = min(s.rng.expovariate(1 / (1.5 if hot else 6)), 40)
    s.work(max(delay, 0.05), s.owner)
    s.do("accept", s.owner, "accepted")


def _touches(s: _Story, *, attempts: int, connect: bool) -> None:
    rng = s.rng
    for _ in range(attempts):
        s.work(rng.uniform(0.2, 10), s.owner)
        kind = rng.choice(["call", "call", "email"])
        s.do("touch", s.owner, "accepted", kind=kind, outcome="attempt", note=rng.choice(TOUCH_NOTES[kind, "attempt"]))
        s.touched = True
    if connect:
        s.work(rng.uniform(0.2, 12), s.owner)
        kind = rng.choice(["call", "call", "meeting"])
        s.do("touch", s.owner, "accepted", kind=kind, outcome="connected",
             note=rng.choice(TOUCH_NOTES[kind, "connected"]))
        s.touched = True


def _reject(s: _Story, reasons: dict[str, int] = REJECT_REASONS) -> None:
    s.work(min(s.rng.expovariate(1 / 5), 40) + 0.1, s.owner)
    reason = s.pick(reasons)
    note = s.rng.choice(REJECT_NOTES) if reason == "other" else ""
    s.do("reject", s.owner, "rejected", reason=reason, note=note)


def _recycle(s: _Story) -> None:
    rng = s.rng
    way = rng.choice(["no_response", "no_response", "not_ready", "nurture", "escalated"])
    if way == "escalated":
        # Nobody accepted it in time: the SLA escalation sends it back to marketing.
        s.wall(rng.uniform(3, 6) * 24 * 60, tick=15)
        s.do("recycle", "system", "recycled", reason="other", note="Not accepted within the SLA.")
    elif way == "nurture":
        _reject(s, {"no_budget": 1})
        s.work(rng.uniform(1, 24), MARKETER)
        s.do("recycle", MARKETER, "recycled", reason="nurture", note="Back to nurture.")
    else:
        _accept(s)
        _touches(s, attempts=rng.randint(3, 6) if way == "no_response" else 1, connect=way == "not_ready")
        s.work(rng.uniform(2, 16), s.owner)
        reason = way if way == "no_response" else rng.choice(["not_ready", "timing"])
        s.do("recycle", s.owner, "recycled", reason=reason)


def _lead_fields(rng: random.Random, index: int, kind: str, by_rule: bool, region: str) -> dict:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    word, line = rng.choice(COMPANY_WORDS), rng.choice(COMPANY_KINDS)
    city, country, calling_code = rng.choice(PLACES[region])
    sources = [s for s in LEAD_SOURCES if not (by_rule and s == "Purchased List")]
    source = rng.choices(sources, weights=[LEAD_SOURCES[s] for s in sources])[0]
    if kind == "untagged":
        # Below both versions of the definition (or unreachable), so only a marketer would hand these over.
        score, email = float(rng.randint(3, 58)), rng.random() > 0.2
    elif by_rule:
        score, email = float(rng.randint(65, 100)), True
    else:
        score, email = float(rng.randint(30, 92)), True
    return {
        "crm_id": sf_id("00Q", index + 1),
        "first_name": first,
        "last_name": last,
        "email": f"{_ascii(first)}.{_ascii(last)}@{_ascii(word)}{_ascii(line)}.example" if email else "",
        "company": f"{word} {line} {rng.choice(SUFFIXES[region])}",
        "title": rng.choice(TITLES),
        "country": country,
        "industry": rng.choice(INDUSTRIES),
        "lead_source": source,
        "score": score,
        "_city": city,
        "_employees": rng.choice([8, 25, 60, 150, 400, 1200, 5000, 20000]),
        "_phone": f"+{calling_code} {rng.randint(200, 999)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
    }


def _kinds(count: int, rng: random.Random) -> list[str]:
    """Every story kind at least once, the rest in proportion to its share, in random order."""
    if count < len(KINDS):
        raise ValueError(f"At least {len(KINDS)} leads are needed to tell every kind of story.")
    total = sum(share for share, _ in KINDS.values())
    counts = {kind: max(1, math.floor(share * count / total)) for kind, (share, _) in KINDS.items()}
    by_share = sorted(KINDS, key=lambda k: -KINDS[k][0])
    i = 0
    while sum(counts.values()) != count:
        kind = by_share[i % len(by_share)]
        if sum(counts.values()) < count:
            counts[kind] += 1
        elif counts[kind] > 1:
            counts[kind] -= 1
        i += 1
    kinds = [kind for kind, n in counts.items() for _ in range(n)]
    rng.shuffle(kinds)
    return kinds


def _tell(plan: LeadPlan, seed: int, created: datetime, calendars) -> _Story:
    # A fresh generator per telling: the same lead tells the same story from any start.
    rng = random.Random(f"{seed}:story:{plan.index}")
    plan.steps = []
    story = _Story(rng, plan, calendars, created)
    outcomes = list(KINDS[plan.kind][1])
    for n, outcome in enumerate(outcomes):
        _episode(story, rng.choice(FINALS) if outcome == "final" else outcome, first=n == 0)
    return story


def demo_plan(*, leads: int = DEFAULT_LEADS, seed: int = DEFAULT_SEED, now: datetime) -> list[LeadPlan]:
    """Every demo lead and its timed steps, all in the past; the same (leads, seed, now) gives the same plan."""
    calendars = {
        t.name: businesstime.Calendar.build(
            t.time_zone, {d: [("09:00", "17:00")] for d in range(5)}, holiday_country=t.holidays,
            years=range(now.year - 1, now.year + 1),
        )
        for t in TEAMS
    }
    rng = random.Random(seed)
    earliest, limit = now - HISTORY, now - timedelta(minutes=10)
    plans = []
    for index, kind in enumerate(_kinds(leads, rng)):
        lead_rng = random.Random(f"{seed}:lead:{index}")
        region = lead_rng.choice(list(REPS))
        by_rule = lead_rng.random() < 0.55
        rep = lead_rng.choice(REPS[region])
        fields = _lead_fields(lead_rng, index, kind, by_rule, region)
        plan = LeadPlan(index, kind, region, rep, by_rule, fields, queue=kind in ("queue", "queue_assigned"))
        # Told once from the earliest start to learn its length, then placed so it ends in the past
        # (and, for stories still in progress, recently).
        draft = _tell(plan, seed, earliest, calendars)
        span = draft.t - earliest
        recent = RECENT.get(draft.state)
        low = earliest if recent is None else max(earliest, limit - recent - span)
        high = max(low, limit - span)
        created = (low + (high - low) * lead_rng.random()).replace(microsecond=0)
        if lead_rng.random() < 0.75 and not businesstime.is_open(created, calendars[region]):
            # Most leads arrive while their region is at work; the rest overnight and at weekends.
            opens = businesstime.next_open(created, calendars[region]).astimezone(UTC)
            created = opens + timedelta(minutes=lead_rng.randint(0, 420), seconds=lead_rng.randint(0, 59))
        story = _tell(plan, seed, created, calendars)
        while story.t > limit:
            # Business hours can stretch the story when placed differently: move it a week earlier.
            created -= timedelta(weeks=1)
            story = _tell(plan, seed, created, calendars)
        _finish(plan, story, created, limit=limit, rng=lead_rng)
        plans.append(plan)
    return plans


def _finish(plan: LeadPlan, story: _Story, created: datetime, *, limit: datetime, rng: random.Random) -> None:
    """The lead's CRM fields as they stand at the end of its story."""
    f = plan.fields
    f["crm_created_at"] = created
    # The last step is the lead's last change, so the rule sees nothing new on a lead whose episode ended.
    f["crm_modified_at"] = plan.steps[-1].at if plan.steps else min(created + timedelta(minutes=rng.randint(1, 600)),
                                                                    limit)
    status = {
        "converted": STATUS_CONVERTED,
        "rejected": STATUS_NOT_CONVERTED,
        "disputed": STATUS_NOT_CONVERTED,
        "accepted": STATUS_WORKING if story.touched else STATUS_OPEN,
    }.get(story.state, STATUS_OPEN)
    f["status"] = status
    plan.final = {
        "owner": story.owner if plan.steps else (None if plan.queue else plan.rep),
        "is_converted": story.converted_at is not None,
        "converted_at": story.converted_at,
        "is_deleted": story.deleted,
    }


# ---------------------------------------------------------------------------------------------
# Seeding
# ---------------------------------------------------------------------------------------------
@dataclass
class SeedResult:
    leads: int
    handoffs: int
    events: int
    states: dict[str, int]


def _raw(plan: LeadPlan, owner_crm_id: str, final: dict) -> dict:
    """The lead as the Salesforce REST API returns it, with the standard and custom field names."""
    fields = plan.fields
    opportunity = sf_id("006", plan.index + 1) if final["is_converted"] else None
    return {
        "attributes": {"type": "Lead", "url": f"/services/data/v62.0/sobjects/Lead/{fields['crm_id']}"},
        "Id": fields["crm_id"],
        "IsDeleted": final["is_deleted"],
        "FirstName": fields["first_name"],
        "LastName": fields["last_name"],
        "Name": f"{fields['first_name']} {fields['last_name']}",
        "Title": fields["title"],
        "Company": fields["company"],
        "Email": fields["email"] or None,
        "Phone": fields["_phone"],
        "City": fields["_city"],
        "Country": fields["country"],
        "Industry": fields["industry"],
        "NumberOfEmployees": fields["_employees"],
        "LeadSource": fields["lead_source"],
        "Status": fields["status"],
        "Lead_Score__c": fields["score"],
        "OwnerId": owner_crm_id,
        "IsConverted": final["is_converted"],
        "ConvertedDate": final["converted_at"].date().isoformat() if final["converted_at"] else None,
        "ConvertedOpportunityId": opportunity,
        "CreatedDate": _sf_time(fields["crm_created_at"]),
        "LastModifiedDate": _sf_time(fields["crm_modified_at"]),
        "SystemModstamp": _sf_time(fields["crm_modified_at"]),
    }


def leads_create_demo(*, plans: Iterable[LeadPlan], users: dict[str, User]) -> dict[int, Lead]:
    """Create the demo leads as they were when they arrived: open, owned by their rep or the queue."""
    plans = list(plans)
    rows = []
    for plan in plans:
        owner = None if plan.queue else users[plan.rep]
        fields = {k: v for k, v in plan.fields.items() if not k.startswith("_")}
        owner_crm = owner.profile.crm_user_id if owner else QUEUE_CRM_ID
        initial = {"is_converted": False, "converted_at": None, "is_deleted": False}
        rows.append(Lead(owner=owner, crm_owner_id=owner_crm, raw=_raw(plan, owner_crm, initial), **fields))
    created = Lead.objects.bulk_create(rows, batch_size=500)
    return {plan.index: lead for plan, lead in zip(plans, created, strict=True)}


def leads_finish_demo(*, plans: Iterable[LeadPlan], leads: dict[int, Lead], users: dict[str, User]) -> None:
    """Bring the demo leads to where their stories left them in the CRM: owner, converted, deleted."""
    changed = []
    for plan in plans:
        lead, final = leads[plan.index], plan.final
        owner = users[final["owner"]] if final["owner"] else None
        lead.owner = owner
        lead.crm_owner_id = owner.profile.crm_user_id if owner else QUEUE_CRM_ID
        lead.is_converted, lead.converted_at, lead.is_deleted = (
            final["is_converted"], final["converted_at"], final["is_deleted"]
        )
        lead.raw = _raw(plan, lead.crm_owner_id, final)
        changed.append(lead)
    Lead.objects.bulk_update(
        changed, ["owner", "crm_owner_id", "is_converted", "converted_at", "is_deleted", "raw"], batch_size=500
    )


BATCHABLE = {"qualify", "convert", "close"}


def _sort_key(step: Step):
    return (step.at, step.action, step.actor, step.params, step.lead)


def _batch_key(step: Step):
    # The rule and the sync act on a whole sync page at once; a person acts on one lead at a time.
    if step.action in BATCHABLE and step.actor in ("rule", "sync"):
        return (step.at, step.action, step.actor, step.params)
    return (step.at, step.lead)


def handoffs_play_demo(*, plans: Iterable[LeadPlan], leads: dict[int, Lead], users: dict[str, User],
                       revise_at: datetime) -> None:
    """Play every story through the state machine in time order, revising the lead definition on the way."""
    actors = {name: Actor.person(user) for name, user in users.items()}
    actors.update(rule=Actor.rule(), sync=Actor.sync(), system=Actor.system())
    steps = sorted((step for plan in plans for step in plan.steps), key=_sort_key)
    index_of = {lead.pk: index for index, lead in leads.items()}
    current: dict[int, int] = {}
    revised = False
    for _, group in groupby(steps, key=_batch_key):
        group = list(group)
        step = group[0]
        if not revised and step.at >= revise_at:
            definition_create(
                name="Engaged, reachable, not bought",
                description="Score of 65 or more, with an email address, not from a purchased list: "
                "sales rejected too many purchased-list leads under v1.",
                conditions=V2_CONDITIONS,
                created_by=users[MARKETER],
                activate=True,
            )
            revised = True
        actor, params, at = actors[step.actor], dict(step.params), step.at
        ids = [current.get(s.lead) for s in group]
        if step.action == "qualify":
            done = machine.handoffs_qualify(lead_ids=[leads[s.lead].pk for s in group], actor=actor, at=at,
                                            strict=True, **params)
            current.update((index_of[handoff.lead_id], handoff.pk) for handoff in done)
        elif step.action == "convert":
            machine.handoffs_convert(handoffs=ids, actor=actor, at=at, **params)
        elif step.action == "close":
            machine.handoffs_close(handoffs=ids, actor=actor, at=at, **params)
        elif step.action == "accept":
            machine.handoff_accept(handoff=ids[0], actor=actor, at=at, **params)
        elif step.action == "reject":
            machine.handoff_reject(handoff=ids[0], actor=actor, at=at, **params)
        elif step.action == "touch":
            machine.handoff_touch(handoff=ids[0], actor=actor, at=at, **params)
        elif step.action == "dispute":
            machine.handoff_dispute(handoff=ids[0], actor=actor, at=at, **params)
        elif step.action == "resolve":
            machine.handoff_resolve(handoff=ids[0], actor=actor, at=at, **params)
        elif step.action == "recycle":
            machine.handoff_recycle(handoff=ids[0], actor=actor, at=at, **params)
        elif step.action == "reassign":
            owner = users[params.pop("owner")]
            machine.handoffs_reassign(handoffs=ids, actor=actor, owner=owner, at=at, **params)
        else:
            raise ValueError(f"Unknown demo step {step.action!r}")


def demo_seed(*, leads: int = DEFAULT_LEADS, seed: int = DEFAULT_SEED, now: datetime | None = None) -> SeedResult:
    """Create the demo cast and history in one transaction; the caller checks `demo_is_seeded` first."""
    if isinstance(leads, bool) or not isinstance(leads, int) or not MIN_LEADS <= leads <= MAX_LEADS:
        raise InvalidInput(f"The number of leads must be between {MIN_LEADS} and {MAX_LEADS}.", field="leads")
    real_now = timezone.now()
    now = now or real_now
    if timezone.is_naive(now) or now > real_now:
        raise InvalidInput("The demo's 'now' must be an aware datetime, not in the future.", field="now")
    plans = demo_plan(leads=leads, seed=seed, now=now)
    with transaction.atomic():
        users_create_demo()
        users = User.objects.select_related("profile").in_bulk([u.username for u in DEMO_USERS], field_name="username")
        created = leads_create_demo(plans=plans, users=users)
        handoffs_play_demo(plans=plans, leads=created, users=users, revise_at=now - REVISED_AGO)
        leads_finish_demo(plans=plans, leads=created, users=users)
        lead_ids = [lead.pk for lead in created.values()]
        # The CRM already holds where these stories ended (leads_finish_demo), so the write-backs the
        # history queued have nothing to send; sending them would fail on ids no CRM knows.
        WriteBack.objects.filter(lead_id__in=lead_ids, status=WriteBack.Status.PENDING).update(
            status=WriteBack.Status.SKIPPED, error_code="DEMO_HISTORY", error="Seeded demo history; nothing to send."
        )
    handoffs = Handoff.objects.filter(lead_id__in=lead_ids)
    return SeedResult(
        leads=len(lead_ids),
        handoffs=handoffs.count(),
        events=HandoffEvent.objects.filter(lead_id__in=lead_ids).count(),
        states=dict(handoffs.values_list("state").annotate(n=Count("id")).values_list("state", "n")),
    )
