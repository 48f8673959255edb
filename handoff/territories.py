"""Routing territories: which team a lead goes to, in the lead definition's condition language (`handoff.rules`).

Pure: a routing rules version's `territories` JSON is parsed here, for the model's validation and the routing pass
alike. Besides the lead fields of the definition a territory may test the lead's SLA `segment` (hot, standard…).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from handoff.rules import FIELDS, Condition, parse_conditions

SEGMENT = "segment"
FIELD_NAMES = (*FIELDS, SEGMENT)


@dataclass(frozen=True)
class Territory:
    name: str
    conditions: tuple[Condition, ...]
    team: Any  # a team id once stored; as given (id or name) while being validated

    def matches(self, lead: Any) -> bool:
        return all(condition.matches(lead) for condition in self.conditions)

    @property
    def uses_segment(self) -> bool:
        return any(condition.field == SEGMENT for condition in self.conditions)


def _parse_conditions(raw: Any, where: str) -> tuple[Condition, ...]:
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{where}: 'conditions' must be a non-empty list (the catch-all team takes the rest).")
    found: list[Condition] = []
    for i, item in enumerate(raw):
        if isinstance(item, dict) and item.get("field") == SEGMENT:
            # The segment is text, like the lead source: parse it as one, then name it for what it is.
            (parsed,) = _parse_one({**item, "field": "lead_source"}, where, i)
            found.append(Condition(SEGMENT, parsed.op, parsed.value))
        else:
            found.extend(_parse_one(item, where, i))
    return tuple(found)


def _parse_one(item: Any, where: str, index: int) -> list[Condition]:
    if isinstance(item, dict) and item.get("field") not in FIELD_NAMES:
        raise ValueError(
            f"{where}: condition {index + 1}: leads have no field {item.get('field')!r}; "
            f"use one of {', '.join(FIELD_NAMES)}."
        )
    try:
        return parse_conditions([item])
    except ValueError as exc:
        raise ValueError(f"{where}: {str(exc).replace('condition 1', f'condition {index + 1}')}") from None


def parse_territories(raw: Any) -> list[Territory]:
    """Validate a version's territories (first match wins); ValueError naming the territory at fault.

    Each is {"name": …, "conditions": [all must hold], "team": a team id or name}. Teams are checked to exist by
    the model, which knows them.
    """
    if not isinstance(raw, list):
        raise ValueError('territories must be a list of {"name", "conditions", "team"} (it may be empty).')
    found: list[Territory] = []
    names: set[str] = set()
    for i, item in enumerate(raw):
        where = f"territory {i + 1}"
        if not isinstance(item, dict) or not str(item.get("name", "")).strip():
            raise ValueError(f"{where}: expected an object with a 'name'.")
        name = str(item["name"]).strip()[:100]
        if name.casefold() in names:
            raise ValueError(f"{where}: the name {name!r} is used twice.")
        names.add(name.casefold())
        unknown = set(item) - {"name", "conditions", "team"}
        if unknown:
            raise ValueError(f"{where}: unknown key {', '.join(sorted(unknown))}; use name, conditions and team.")
        team = item.get("team")
        if isinstance(team, bool) or not isinstance(team, int | str) or (isinstance(team, str) and not team.strip()):
            raise ValueError(f"{where}: 'team' must name a team (its id or its name).")
        found.append(Territory(name, _parse_conditions(item.get("conditions"), where), team))
    return found


def territory_for(territories: Sequence[Territory], lead: Any) -> Territory | None:
    """The first territory the lead is in; None: the catch-all team's."""
    return next((t for t in territories if t.matches(lead)), None)
