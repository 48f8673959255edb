"""The demo's history, planned without the database: each lead's record and its story as timed, acted steps."""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from handoff import businesstime

from . import cast
from .names import CONVERTED, HOT_SOURCES, NEW_LEAD_FIELDS, NOT_CONVERTED, OPEN, WORKING, Contact, lead_source

DEFAULT_LEADS = 500
DEFAULT_SEED = 20240611
HISTORY = timedelta(weeks=8)
# The lead definition was revised this long ago: older handoffs were judged by v1, newer ones by v2.
REVISED_AGO = timedelta(weeks=4)
REVISION = {
    "name": "Engaged, reachable, not bought",
    "description": "Score of 65 or more, with an email address, not from a purchased list: "
    "sales rejected too many purchased-list leads under v1.",
    "conditions": [
        {"field": "score", "op": ">=", "value": 65},
        {"field": "email", "op": "is_set"},
        {"field": "lead_source", "op": "not_in", "value": ["Purchased List"]},
    ],
}

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
_CRM_USER_ID = {p.username: p.crm_user_id for p in cast.LOGINS}


@dataclass(frozen=True)
class Step:
    """One action of a story: when, what, who (a login, or "rule", "sync", "system") and on which lead."""

    at: datetime
    action: str
    actor: str
    lead: int
    params: tuple[tuple[str, str], ...] = ()


@dataclass
class LeadPlan:
    """One demo lead: its CRM record as created, its story, and the CRM changes the story ends with."""

    index: int
    kind: str
    region: str
    rep: str
    by_rule: bool
    fields: dict
    queue: bool = False
    steps: list[Step] = field(default_factory=list)
    final: dict = field(default_factory=dict)

    def record(self, *, final: bool) -> dict:
        """The lead as the CRM returns it: as it arrived, or (final) as its story left it."""
        return {**self.fields, **self.final} if final else dict(self.fields)


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
        cal = self.calendars[cast.TEAM_OF.get(who, "EMEA")]
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
    manager, marketer = cast.MANAGER_OF[plan.region], cast.MARKETER_LOGIN
    if not first:
        # Back in nurture for a while, then the lead shows interest again.
        s.wall(rng.uniform(5, 14) * 24 * 60)
    if plan.by_rule:
        s.wall(rng.uniform(2, 12), tick=5)
        s.do("qualify", "rule", "qualified")
    else:
        s.work(rng.uniform(0.3, 14), marketer)
        s.do("qualify", marketer, "qualified", note=rng.choice(QUALIFY_NOTES))
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
        s.work(rng.uniform(1, 16), marketer)
        reason = s.pick(DISPUTE_REASONS)
        note = rng.choice(DISPUTE_NOTES) if reason == "other" or rng.random() < 0.5 else ""
        s.do("dispute", marketer, "disputed", reason=reason, note=note)
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
    hot = s.plan.fields["LeadSource"] in HOT_SOURCES
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
        s.work(rng.uniform(1, 24), cast.MARKETER_LOGIN)
        s.do("recycle", cast.MARKETER_LOGIN, "recycled", reason="nurture", note="Back to nurture.")
    else:
        _accept(s)
        _touches(s, attempts=rng.randint(3, 6) if way == "no_response" else 1, connect=way == "not_ready")
        s.work(rng.uniform(2, 16), s.owner)
        reason = way if way == "no_response" else rng.choice(["not_ready", "timing"])
        s.do("recycle", s.owner, "recycled", reason=reason)


def _arrived(rng: random.Random, index: int, kind: str, by_rule: bool, region: str) -> dict:
    """Who the lead is and where it came from, as CRM fields; the rest is added when its story is told."""
    contact = Contact.draw(rng, region)
    # The rule only hands over leads both versions of the definition accept.
    source = lead_source(rng, exclude=("Purchased List",) if by_rule else ())
    if kind == "untagged":
        # Below both versions of the definition (or unreachable), so only a marketer would hand these over.
        score, email = float(rng.randint(3, 58)), rng.random() > 0.2
    elif by_rule:
        score, email = float(rng.randint(65, 100)), True
    else:
        score, email = float(rng.randint(30, 92)), True
    return {
        **contact.crm_fields(),
        "Id": cast.seed_id("00Q", index + 1),
        "Email": contact.email if email else None,
        "LeadSource": source,
        "Lead_Score__c": score,
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
        for t in cast.TEAMS
    }
    rng = random.Random(seed)
    earliest, limit = now - HISTORY, now - timedelta(minutes=10)
    plans = []
    for index, kind in enumerate(_kinds(leads, rng)):
        lead_rng = random.Random(f"{seed}:lead:{index}")
        region = lead_rng.choice(list(cast.REPS_OF))
        by_rule = lead_rng.random() < 0.55
        rep = lead_rng.choice(cast.REPS_OF[region])
        fields = _arrived(lead_rng, index, kind, by_rule, region)
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
    """Complete the lead's record as created, and the CRM changes its story ends with (owner, converted, deleted).

    The record carries the status and the last change the story ends with from the start, so the rule sees
    nothing new on a lead whose episode ended.
    """
    modified = plan.steps[-1].at if plan.steps else min(created + timedelta(minutes=rng.randint(1, 600)), limit)
    status = {
        "converted": CONVERTED,
        "rejected": NOT_CONVERTED,
        "disputed": NOT_CONVERTED,
        "accepted": WORKING if story.touched else OPEN,
    }.get(story.state, OPEN)
    first_owner = None if plan.queue else plan.rep
    plan.fields.update(
        NEW_LEAD_FIELDS,
        Status=status,
        OwnerId=_owner_id(first_owner),
        CreatedDate=created,
        LastModifiedDate=modified,
        SystemModstamp=modified,
    )
    converted = story.converted_at is not None
    plan.final = {
        "OwnerId": _owner_id(story.owner if plan.steps else first_owner),
        "IsConverted": converted,
        "ConvertedDate": story.converted_at.date() if converted else None,
        "ConvertedOpportunityId": cast.seed_id("006", plan.index + 1) if converted else None,
        "IsDeleted": story.deleted,
    }


def _owner_id(username: str | None) -> str:
    """The CRM owner of a lead: its rep's CRM user, or the queue."""
    return _CRM_USER_ID[username] if username else cast.QUEUE_ID
