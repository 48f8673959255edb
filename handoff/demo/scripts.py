"""The demo CRM's leads, each a pure function of (seed, number): its fields when created and a script of changes."""
from __future__ import annotations

import functools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from . import cast
from .names import (
    CONVERTED,
    HOT_SOURCES,
    LEAD_SOURCES,
    NEW_LEAD_FIELDS,
    NOT_CONVERTED,
    WORKING,
    Contact,
    lead_source,
)

# Leads arrive and reps work 09:00-17:00 UTC on weekdays; the demo's clock counts only those "business seconds".
WORKDAY_START = 9 * 3600
WORKDAY_SECONDS = 8 * 3600
WEEK_SECONDS = 7 * 86400
BUSINESS_WEEK = 5 * WORKDAY_SECONDS
BUSINESS_DAY = WORKDAY_SECONDS
BUSINESS_HOUR = 3600
# A new install looks eight weeks old: ~4,800 leads at the default one per 4 business minutes.
HISTORY = timedelta(weeks=8)
# No scripted change happens later than this after the lead was created (bounds what iter_changed replays).
SCRIPT_SPAN = 30 * BUSINESS_DAY
RATINGS = ["Hot", "Warm", "Cold"]
QUEUE_ID = cast.QUEUE_ID
# Who owns the CRM's leads: its active reps, and early in the history also the former rep.
_OWNERS = [person.crm_user_id for person in cast.CRM_USERS]
_REPS = [person.crm_user_id for person in cast.CRM_USERS if person.active]

# --- Time ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BusinessClock:
    """Converts between wall time and business seconds elapsed since `epoch` (a Monday, 00:00 UTC)."""

    epoch: datetime

    def to_business(self, moment: datetime) -> int:
        weeks, rest = divmod(int((moment - self.epoch).total_seconds()), WEEK_SECONDS)
        day, second = divmod(rest, 86400)
        within = BUSINESS_WEEK if day >= 5 else day * WORKDAY_SECONDS + min(max(second - WORKDAY_START, 0),
                                                                             WORKDAY_SECONDS)
        return weeks * BUSINESS_WEEK + within

    def to_wall(self, business: int) -> datetime:
        weeks, rest = divmod(business, BUSINESS_WEEK)
        day, second = divmod(rest, WORKDAY_SECONDS)
        return self.epoch + timedelta(seconds=weeks * WEEK_SECONDS + day * 86400 + WORKDAY_START + second)


def epoch_for(now: datetime) -> datetime:
    # The Monday on or after eight weeks ago: the history never exceeds HISTORY, so the lead count stays bounded.
    start = (now - HISTORY).astimezone(UTC)
    monday = start.date() + timedelta(days=-start.weekday() % 7)
    return datetime(monday.year, monday.month, monday.day, tzinfo=UTC)


# --- Lead scripts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Script:
    """One lead's life: static fields, creation and later changes, in business seconds since the epoch."""

    fields: dict[str, Any]
    created: int
    events: tuple[tuple[int, dict[str, Any]], ...]


@functools.lru_cache(maxsize=50_000)
def lead_script(seed: int, interval: int, index: int) -> Script:
    """Lead `index`'s life; a string seed is hashed with SHA-512, so every process derives the same (unlike hash())."""
    rng = random.Random(f"handoff-demo:{seed}:{index}")
    created = index * interval + rng.randrange(interval)
    fields = _identity(rng, index)
    source = fields["LeadSource"]
    low, high = LEAD_SOURCES[source][1]
    score = float(rng.randint(low, high))
    hot = source in HOT_SOURCES
    fields.update(
        NEW_LEAD_FIELDS,
        Lead_Score__c=score,
        Rating="Hot" if score >= 70 else rng.choice(RATINGS[1:]),
        OwnerId=_first_owner(rng, created),
        MQL_Date__c=None,
        Description=None,
    )
    return Script(fields, created, tuple(_events(rng, index, created, fields["OwnerId"], score, hot)))


def _identity(rng: random.Random, index: int) -> dict[str, Any]:
    contact = Contact.draw(rng)
    return {
        **contact.crm_fields(),
        "Id": cast.crm_id("00Q", index + 1),
        # A few leads come in without an email, as web forms with optional fields do.
        "Email": None if rng.random() < 0.04 else contact.email,
        "LeadSource": lead_source(rng),
    }


def _first_owner(rng: random.Random, created: int) -> str:
    # Some leads wait in the queue first; early in the history the former rep still got his share.
    if rng.random() < 0.35:
        return QUEUE_ID
    return rng.choice(_OWNERS if created < 2 * BUSINESS_WEEK else _REPS)


def _events(
    rng: random.Random, index: int, created: int, owner: str, score: float, hot: bool
) -> Iterator[tuple[int, dict[str, Any]]]:
    """The scripted changes after creation, in time order (all within SCRIPT_SPAN)."""
    at = created
    if owner == QUEUE_ID:
        at += rng.randint(10 * 60, 6 * BUSINESS_HOUR)
        yield at, {"OwnerId": rng.choice(_REPS)}
    if rng.random() < 0.015:
        # Spam and duplicates get deleted within a few days.
        yield at + rng.randint(BUSINESS_HOUR, 3 * BUSINESS_DAY), {"IsDeleted": True}
        return
    bumps = sorted(rng.randint(BUSINESS_HOUR, 10 * BUSINESS_DAY) for _ in range(rng.choice([0, 0, 1, 1, 2, 3])))
    contacted = at + rng.randint(5 * 60, (4 * BUSINESS_HOUR) if hot else 2 * BUSINESS_DAY) if rng.random() < 0.78 \
        else None
    outcome: tuple[int, dict[str, Any]] | None = None
    if contacted is not None:
        roll = rng.random()
        if roll < (0.45 if hot else 0.22):
            outcome = (contacted + rng.randint(2 * BUSINESS_DAY, 15 * BUSINESS_DAY), {
                "Status": CONVERTED,
                "IsConverted": True,
                "ConvertedAccountId": cast.crm_id("001", index + 1),
                "ConvertedContactId": cast.crm_id("003", index + 1),
                "ConvertedOpportunityId": cast.crm_id("006", index + 1),
            })
        elif roll < 0.55:
            outcome = (contacted + rng.randint(BUSINESS_DAY, 10 * BUSINESS_DAY), {"Status": NOT_CONVERTED})
    timeline: list[tuple[int, dict[str, Any]]] = []
    for offset in bumps:
        score = min(100.0, score + rng.randint(5, 20))
        timeline.append((created + offset, {"Lead_Score__c": score}))
    if contacted is not None:
        timeline.append((contacted, {"Status": WORKING}))
    if rng.random() < 0.05:
        timeline.append((at + rng.randint(BUSINESS_DAY, 5 * BUSINESS_DAY), {"OwnerId": rng.choice(_REPS)}))
    if outcome is not None:
        # Nothing changes on a converted lead after conversion: it is read-only.
        timeline = [event for event in timeline if event[0] < outcome[0]]
        timeline.append(outcome)
    timeline.sort(key=lambda event: event[0])
    yield from timeline
