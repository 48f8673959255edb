"""SLA policy segments: which windows a lead gets (hot leads 15 minutes, the rest two hours…), parsed and matched.

Pure: a policy's `segments` JSON is parsed here with the lead definition's condition language (`handoff.rules`),
for the model's validation and for the clocks alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from handoff.rules import Condition, matches, parse_conditions


@dataclass(frozen=True)
class Segment:
    name: str
    when: tuple[tuple[Condition, ...], ...]
    accept_minutes: int
    first_touch_minutes: int

    def matches(self, lead) -> bool:
        return not self.when or any(matches(alternative, lead) for alternative in self.when)


def parse_segments(raw: Any) -> list[Segment]:
    """Validate a policy's segments; ValueError naming the bad segment. The last must match every lead."""
    if not isinstance(raw, list) or not raw:
        raise ValueError('segments must be a non-empty list; the last one ("when": []) catches every lead.')
    found = []
    for i, item in enumerate(raw):
        where = f"segment {i + 1}"
        if not isinstance(item, dict) or not str(item.get("name", "")).strip():
            raise ValueError(f"{where}: expected an object with a 'name'.")
        when = item.get("when", [])
        if not isinstance(when, list) or not all(isinstance(alt, list) and alt for alt in when):
            raise ValueError(f"{where}: 'when' must be a list of non-empty condition lists (any of them holds).")
        try:
            alternatives = tuple(tuple(parse_conditions(alt)) for alt in when)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        minutes = {}
        for key in ("accept_minutes", "first_touch_minutes"):
            value = item.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{where}: '{key}' must be a positive whole number of business minutes.")
            minutes[key] = value
        found.append(Segment(str(item["name"]).strip()[:40], alternatives, **minutes))
    if found[-1].when:
        raise ValueError('The last segment must have "when": [] so that every lead has a segment.')
    return found


def segment_for(segments: Sequence[Segment], lead) -> Segment:
    return next(s for s in segments if s.matches(lead))
