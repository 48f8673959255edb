"""Definition conditions mean the same in Python and in SQL."""
import itertools

import pytest

from handoff.models import Lead
from handoff.rules import as_q, matches, parse_conditions
from tests.factories import make_lead

CONDITION_SETS = [
    [{"field": "score", "op": ">=", "value": 60}],
    [{"field": "score", "op": "<", "value": 60}],
    [{"field": "score", "op": "!=", "value": 50}],
    [{"field": "lead_source", "op": "in", "value": ["Web", "Demo Request"]}],
    [{"field": "lead_source", "op": "not_in", "value": ["Web"]}],
    [{"field": "country", "op": "=", "value": "DE"}],
    [{"field": "country", "op": "!=", "value": "DE"}],
    [{"field": "email", "op": "is_set"}],
    [{"field": "email", "op": "is_not_set"}],
    [{"field": "score", "op": "is_not_set"}],
    [{"field": "score", "op": ">", "value": 10}, {"field": "email", "op": "is_set"}],
]


@pytest.mark.parametrize("raw", CONDITION_SETS, ids=[str(c) for c in CONDITION_SETS])
def test_python_and_queryset_evaluation_agree(db, raw):
    for score, source, country, email in itertools.product(
        [None, 0.0, 10.0, 50.0, 60.0, 99.5], ["Web", "Demo Request", "Webinar", ""], ["DE", "US", ""], ["", "a@b.c"]
    ):
        make_lead(score=score, lead_source=source, country=country, email=email)
    conditions = parse_conditions(raw)
    in_python = {lead.pk for lead in Lead.objects.all() if matches(conditions, lead)}
    in_sql = set(Lead.objects.filter(as_q(conditions)).values_list("pk", flat=True))
    assert in_python == in_sql
    assert in_python  # every condition set selects something in this grid


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("score >= 60", "must be a list"),
        ([{"field": "score", "op": "~", "value": 1}], "unknown operator"),
        ([{"field": "country", "op": ">=", "value": "DE"}], "compares numbers"),
        ([{"field": "score", "op": ">=", "value": "high"}], "expected a number"),
        ([{"field": "lead_source", "op": "in", "value": []}], "non-empty list"),
    ],
)
def test_invalid_conditions_are_explained(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_conditions(raw)


def test_an_empty_definition_matches_nothing(db):
    make_lead()
    assert not Lead.objects.filter(as_q([])).exists()
    assert not matches([], Lead.objects.get())
