"""The reps' feedback on the demo's history: the request job and the morning digests played day by day through the
services, and the answers the reps give (or never give), so a newcomer's "Lead quality" page has a story to tell.

Quality follows the lead: demo requests and partner referrals rate well, purchased lists badly, and the stricter
definition (v2) rates a little better than v1. Reps differ in how often they answer. Deterministic for a seed.
"""
from __future__ import annotations

import heapq
import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from handoff.exceptions import DomainError
from handoff.models import FeedbackRequest
from handoff.models.feedback import Via
from handoff.services.actors import Actor
from handoff.services.feedback import feedback_digests_create, feedback_requests_create, lead_feedback_give

from . import cast

# How likely each rep answers a question at all (the rest expire after their digests).
DILIGENCE = {"raj": 0.85, "sofia": 0.6, "li": 0.75, "tom": 0.5}
POINT_BASE = {"rejected": 1.7, "recycled": 2.6, "accepted": 3.4, "converted": 4.3}
SOURCE_SHIFT = {
    "Demo Request": 0.5,
    "Partner Referral": 0.4,
    "Webinar": 0.1,
    "Trade Show": 0.0,
    "Web": -0.2,
    "Content Download": -0.3,
    "Purchased List": -1.2,
}
POOR = ["wrong_persona", "no_budget", "low_intent", "bad_contact_data", "student_or_competitor", "duplicate"]
MIDDLING = ["bad_timing", "low_intent", "no_budget"]
SIGNALS = (["competitor_mentioned", "pricing_objection", "product_gap"], [50, 35, 15])
NOTES = [
    "Asked for a callback next quarter.",
    "Talked to an intern, not the buyer.",
    "Already uses a competitor; renewal in the autumn.",
    "Great conversation, budget confirmed.",
    "Number disconnected, email bounced.",
    "Price came up twice.",
    "Needs SSO before they can buy.",
]


def feedback_replay(*, start: datetime, now: datetime, seed: int, users: dict) -> int:
    """Ask, remind and answer day by day from `start` to `now`; returns the number of answers given."""
    rng = random.Random(seed * 7919 + 11)
    names = {user.pk: name for name, user in users.items()}
    zones = sorted({ZoneInfo(p.time_zone) for p in cast.LOGINS if p.username in DILIGENCE}, key=str)
    answers: list[tuple[datetime, int, int, dict]] = []  # (when, tie-break, request id, answer)
    given = 0

    def answer_until(moment: datetime) -> None:
        nonlocal given
        while answers and answers[0][0] <= moment:
            at, _, request_id, answer = heapq.heappop(answers)
            request = FeedbackRequest.objects.select_related("rater").get(pk=request_id)
            try:
                lead_feedback_give(request=request, actor=Actor.person(request.rater), at=at, **answer)
                given += 1
            except DomainError:  # it expired before the rep got to it, as questions do
                continue

    def ask(moment: datetime) -> None:
        answer_until(moment)
        feedback_requests_create(now=moment)
        for request in FeedbackRequest.objects.filter(asked_at=moment).select_related("handoff", "definition"):
            plan = _plan(rng, request, names.get(request.rater_id, ""), moment)
            for at, answer in plan:
                heapq.heappush(answers, (at, rng.random(), request.pk, answer))

    day = start.astimezone(UTC).date()
    while (morning := datetime.combine(day, time(5, 0), tzinfo=UTC)) <= now:
        ask(morning)
        for zone in zones:
            digest = datetime.combine(day, time(9, 5), tzinfo=zone).astimezone(UTC)
            if digest <= now:
                answer_until(digest)
                # Written, not sent: the sender drops a digest whose day is over (today's still goes out).
                feedback_digests_create(now=digest)
        day += timedelta(days=1)
    ask(now)
    return given


def _plan(rng: random.Random, request: FeedbackRequest, rep: str, asked: datetime) -> list[tuple[datetime, dict]]:
    """When (if ever) the rep answers this request, with what, and whether they change their mind later."""
    if rng.random() > DILIGENCE.get(rep, 0.7):
        return []
    base = POINT_BASE[request.point] + SOURCE_SHIFT.get(request.lead_source, 0.0)
    base += 0.3 if request.definition.version > 1 else 0.0
    rating = min(5, max(1, round(rng.gauss(base, 0.8))))
    delay = rng.choices([timedelta(hours=rng.uniform(4, 9)), timedelta(days=1, hours=rng.uniform(0, 6)),
                         timedelta(days=2, hours=rng.uniform(0, 6))], weights=[55, 30, 15])[0]
    first = {"rating": rating, "reasons": _reasons(rng, request, rating), "note": _note(rng),
             "via": rng.choice([Via.LINK, Via.LINK, Via.APP])}
    plan = [(asked + delay, first)]
    if rng.random() < 0.08:  # second thoughts a day or two later
        changed = {**first, "rating": min(5, max(1, rating + rng.choice([-1, 1]))), "via": Via.APP}
        plan.append((asked + delay + timedelta(days=rng.uniform(1, 3)), changed))
    return plan


def _reasons(rng: random.Random, request: FeedbackRequest, rating: int) -> list[str]:
    reasons = []
    if request.point != "rejected":  # a rejected lead's reason is its reject reason
        if rating <= 2:
            reasons += rng.sample(POOR, rng.choice([1, 1, 2]))
            if request.lead_source == "Purchased List" and "bad_contact_data" not in reasons:
                reasons.append("bad_contact_data")
        elif rating == 3:
            reasons += rng.sample(MIDDLING, 1) if rng.random() < 0.7 else []
        elif rng.random() < 0.7:
            reasons.append("great_fit")
    if rng.random() < 0.25:
        reasons.append(rng.choices(*SIGNALS)[0])
    return reasons


def _note(rng: random.Random) -> str:
    return rng.choice(NOTES) if rng.random() < 0.2 else ""
