"""The lead definition's conditions, evaluated the same way in Python and as a queryset filter."""
from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

# Lead fields a definition may test, and whether they hold numbers or text.
# Text fields are stored as "" when empty (never NULL), so "is set" means non-empty for them.
FIELDS: dict[str, type] = {
    "score": float,
    "lead_source": str,
    "country": str,
    "industry": str,
    "status": str,
    "email": str,
    "title": str,
    "company": str,
}

_COMPARISONS: dict[str, tuple[str, Callable[[Any, Any], bool]]] = {
    ">=": ("gte", operator.ge),
    ">": ("gt", operator.gt),
    "<=": ("lte", operator.le),
    "<": ("lt", operator.lt),
}
OPERATORS = ("=", "!=", *_COMPARISONS, "in", "not_in", "is_set", "is_not_set")


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any = None

    def matches(self, lead: Any) -> bool:
        actual = getattr(lead, self.field)
        if self.op == "is_set":
            return _is_set(actual)
        if self.op == "is_not_set":
            return not _is_set(actual)
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        if self.op == "in":
            return actual in self.value
        if self.op == "not_in":
            return actual not in self.value
        # An unknown score fails every comparison, as NULL does in SQL.
        return actual is not None and _COMPARISONS[self.op][1](actual, self.value)

    def as_q(self) -> Q:
        f = self.field
        if self.op in ("is_set", "is_not_set"):
            unset = Q(**{f"{f}__isnull": True}) if FIELDS[f] is float else Q(**{f: ""})
            return ~unset if self.op == "is_set" else unset
        if self.op == "=":
            return Q(**{f: self.value})
        if self.op == "!=":
            return ~Q(**{f: self.value})
        if self.op == "in":
            return Q(**{f"{f}__in": self.value})
        if self.op == "not_in":
            return ~Q(**{f"{f}__in": self.value})
        return Q(**{f"{f}__{_COMPARISONS[self.op][0]}": self.value})

    def __str__(self) -> str:
        if self.op in ("is_set", "is_not_set"):
            return f"{self.field} {self.op.replace('_', ' ')}"
        value = ", ".join(map(str, self.value)) if isinstance(self.value, list) else self.value
        return f"{self.field} {self.op.replace('_', ' ')} {value}"


def _is_set(value: Any) -> bool:
    return value is not None and value != ""


def _parse_one(raw: Any, index: int) -> Condition:
    where = f"condition {index + 1}"
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: expected an object with 'field', 'op' and 'value'.")
    field, op, value = raw.get("field"), raw.get("op"), raw.get("value")
    if field not in FIELDS:
        raise ValueError(f"{where}: unknown field {field!r}; use one of {', '.join(FIELDS)}.")
    if op not in OPERATORS:
        raise ValueError(f"{where}: unknown operator {op!r}; use one of {', '.join(OPERATORS)}.")
    kind = FIELDS[field]
    if op in ("is_set", "is_not_set"):
        return Condition(field, op)
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise ValueError(f"{where}: '{op}' needs a non-empty list of values.")
        return Condition(field, op, [_coerce(v, kind, where) for v in value])
    if op in _COMPARISONS and kind is not float:
        raise ValueError(f"{where}: '{op}' compares numbers; {field!r} is text.")
    return Condition(field, op, _coerce(value, kind, where))


def _coerce(value: Any, kind: type, where: str) -> Any:
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{where}: expected a number, got {value!r}.")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected text, got {value!r}.")
    return value


def parse_conditions(raw: Any) -> list[Condition]:
    """Validate a definition's JSON conditions; raises ValueError naming the bad condition."""
    if not isinstance(raw, list):
        raise ValueError("conditions must be a list.")
    return [_parse_one(item, i) for i, item in enumerate(raw)]


def matches(conditions: Iterable[Condition], lead: Any) -> bool:
    """All conditions hold for the lead (an empty definition matches nothing: nobody agreed to it)."""
    conditions = list(conditions)
    return bool(conditions) and all(c.matches(lead) for c in conditions)


def as_q(conditions: Iterable[Condition]) -> Q:
    conditions = list(conditions)
    if not conditions:
        return Q(pk__in=[])
    q = Q()
    for condition in conditions:
        q &= condition.as_q()
    return q
