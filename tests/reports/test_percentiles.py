"""Percentiles in the database: PostgreSQL's percentile_cont and the portable window-function form give the same
numbers on a fixed data set, and both are the linear interpolation worked out by hand."""
from __future__ import annotations

import pytest
from django.db import NotSupportedError, connection
from django.db.models import F

from handoff.models import Lead
from handoff.selectors.reports import PercentileCont, percentiles
from tests.factories import make_lead

pytestmark = pytest.mark.django_db

# Lead scores by lead source; None is a lead without a score (left out, as percentile_cont leaves out nulls).
DATA = {
    "four": [4, 1, 3, 2],
    "one": [10],
    "five": [5, 100, 5, 7, 3],
    "with a null": [None, 4, 2],
    "only null": [None],
}
# Worked out by hand: sorted values v, rank p·(n-1), v[floor] + (v[floor+1] - v[floor]) × fraction.
EXPECTED = {
    "four": (4, [2.5, 3.7]),  # [1, 2, 3, 4]: rank 1.5 → 2.5; rank 2.7 → 3 + 0.7
    "one": (1, [10.0, 10.0]),
    "five": (5, [5.0, 62.8]),  # [3, 5, 5, 7, 100]: rank 2 → 5; rank 3.6 → 7 + 0.6 × 93
    "with a null": (2, [3.0, 3.8]),  # [2, 4]: rank 0.5 → 3; rank 0.9 → 2 + 0.9 × 2
}


@pytest.fixture
def scores(db):
    for source, values in DATA.items():
        for value in values:
            make_lead(lead_source=source, score=value)
    return Lead.objects.all()


def _rounded(found: dict) -> dict:
    return {key: (n, [round(v, 9) for v in values]) for key, (n, values) in found.items()}


def test_the_portable_form_gives_the_hand_worked_percentiles_per_group(scores):
    found = percentiles(scores, value="score", group=F("lead_source"), window=True)

    assert _rounded(found) == EXPECTED


def test_the_portable_form_without_groups_takes_every_row(scores):
    found = percentiles(scores, value="score", window=True)

    # 1, 2, 2, 3, 3, 4, 4, 5, 5, 7, 10, 100: rank 5.5 → 4; rank 9.9 → 7 + 0.9 × 3.
    assert _rounded(found) == {None: (12, [4.0, 9.7])}


def test_an_empty_set_has_no_percentile(scores):
    assert percentiles(scores.filter(lead_source="only null"), value="score", window=True) == {}


@pytest.mark.postgres
def test_postgresql_percentile_cont_and_the_portable_form_agree(scores):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's percentile_cont: DATABASE_URL=postgres://…")
    ordered_set = percentiles(scores, value="score", group=F("lead_source"), window=False)
    window = percentiles(scores, value="score", group=F("lead_source"), window=True)

    assert _rounded(ordered_set) == _rounded(window) == EXPECTED
    totals = percentiles(scores, value="score", window=False), percentiles(scores, value="score", window=True)
    assert _rounded(totals[0]) == _rounded(totals[1]) == {None: (12, [4.0, 9.7])}


def test_elsewhere_percentile_cont_says_it_is_postgresqls(scores):
    if connection.vendor == "postgresql":
        pytest.skip("runs where percentile_cont does not exist")
    with pytest.raises(NotSupportedError, match="PostgreSQL"):
        list(scores.values("lead_source").annotate(p=PercentileCont("score", 0.5)))


def test_a_percentile_is_a_fraction_from_zero_to_one():
    with pytest.raises(ValueError):
        PercentileCont("score", 90)
