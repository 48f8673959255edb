"""Tallies: the lead quality report's counts, kept in the transaction of every change, and rebuilt on demand."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable

from django.db import transaction
from django.db.models import (
    Count,
)
from django.db.models.functions import TruncDate

from handoff.db import upsert_add
from handoff.models import (
    FeedbackOutcome,
    FeedbackReasonTally,
    FeedbackRequest,
    FeedbackTally,
)
from handoff.selectors.quality import report_zone

log = logging.getLogger(__name__)


_GROUP = ("day", "lead_source", "segment", "definition")


def _groups(rows: Iterable[tuple]) -> list[tuple]:
    """The tally group of each (qualified_at, lead_source, segment, definition_id, …) row, in the report's days."""
    zone = report_zone()
    return [
        (qualified_at.astimezone(zone).date(), source, segment, definition)
        for qualified_at, source, segment, definition, *_ in rows
    ]


def _tally(changes: Iterable[tuple[tuple, dict]], reasons: Iterable[tuple[tuple, int, int]] = ()) -> None:
    """Add (group, {count: +n}) to the request tallies and (group, reason id, +n) to the reason tallies."""
    totals: dict[tuple, Counter] = defaultdict(Counter)
    for group, counts in changes:
        totals[group].update(counts)
    given: Counter = Counter()
    for group, reason_id, n in reasons:
        given[(*group, reason_id)] += n
    keys = ("day", "lead_source", "segment", "definition_id")
    upsert_add(
        FeedbackTally,
        [
            {**dict(zip(keys, group, strict=True)), **{name: counts.get(name, 0) for name in FeedbackTally.COUNTS}}
            for group, counts in totals.items()
            if any(counts.values())
        ],
        key=_GROUP,
        counts=FeedbackTally.COUNTS,
    )
    upsert_add(
        FeedbackReasonTally,
        [{**dict(zip((*keys, "reason_id"), key, strict=True)), "given": n} for key, n in given.items() if n],
        key=(*_GROUP, "reason"),
        counts=FeedbackReasonTally.COUNTS,
    )


def feedback_tallies_rebuild() -> tuple[int, int]:
    """Count every tally again from the requests and their feedback (a repair, or after loading rows by hand).

    Returns the number of (request, reason) tally rows written. Runs in one transaction.
    """
    day = TruncDate("qualified_at", tzinfo=report_zone())
    counted = FeedbackRequest.objects.exclude(outcome=FeedbackOutcome.WITHDRAWN).annotate(day=day)
    group = ("day", "lead_source", "segment", "definition_id")
    totals: dict[tuple, Counter] = defaultdict(Counter)
    for row in counted.values(*group, "outcome", "feedback__rating").annotate(n=Count("pk")).order_by():
        counts = totals[tuple(row[name] for name in group)]
        counts[row["outcome"]] += row["n"]
        if row["outcome"] == FeedbackOutcome.ANSWERED and row["feedback__rating"]:
            counts[f"rated_{row['feedback__rating']}"] += row["n"]
    reasons: Counter = Counter()
    for row in (
        counted.filter(outcome=FeedbackOutcome.ANSWERED, feedback__reasons__isnull=False)
        .values(*group, "feedback__reasons")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        reasons[(*(row[name] for name in group), row["feedback__reasons"])] += row["n"]
    for row in (
        counted.filter(reject_reason__isnull=False)
        .values(*group, "reject_reason_id")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        reasons[(*(row[name] for name in group), row["reject_reason_id"])] += row["n"]
    with transaction.atomic():
        FeedbackTally.objects.all().delete()
        FeedbackReasonTally.objects.all().delete()
        FeedbackTally.objects.bulk_create(
            [
                FeedbackTally(
                    day=key[0],
                    lead_source=key[1],
                    segment=key[2],
                    definition_id=key[3],
                    **{name: counts.get(name, 0) for name in FeedbackTally.COUNTS},
                )
                for key, counts in totals.items()
            ],
            batch_size=2000,
        )
        FeedbackReasonTally.objects.bulk_create(
            [
                FeedbackReasonTally(
                    day=key[0], lead_source=key[1], segment=key[2], definition_id=key[3], reason_id=key[4], given=n
                )
                for key, n in reasons.items()
            ],
            batch_size=2000,
        )
    return len(totals), len(reasons)
