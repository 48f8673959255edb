"""Answers: a rating with reasons and a note, from the rater only, changed within its window, every version kept."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from handoff.exceptions import InvalidInput, NotAllowed, WrongState
from handoff.models import (
    FeedbackOutcome,
    FeedbackPoint,
    FeedbackRequest,
    LeadFeedback,
    LeadFeedbackRevision,
    ReasonCode,
)
from handoff.models.feedback import NOTE_MAX_LENGTH, RATING_MAX, RATING_MIN, Via
from handoff.selectors.feedback import (
    change_deadline,
)

from ..actors import Actor
from .constants import MAX_REASONS
from .tallies import _groups, _tally

log = logging.getLogger(__name__)


def _rating(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput(f"A rating is a whole number from {RATING_MIN} to {RATING_MAX}.", field="rating")
    try:
        rating = int(value)
    except ValueError:
        raise InvalidInput(
            f"A rating is a whole number from {RATING_MIN} to {RATING_MAX}, not {value!r}.", field="rating"
        ) from None
    if not RATING_MIN <= rating <= RATING_MAX:
        raise InvalidInput(f"A rating is from {RATING_MIN} to {RATING_MAX}, not {rating}.", field="rating")
    return rating


def _reasons(
    given: Iterable[ReasonCode | str], request: FeedbackRequest, note: str, kept: set[int]
) -> list[ReasonCode]:
    """The feedback reasons named, checked: known, active (or already on this feedback), allowed at this point."""
    codes = list(dict.fromkeys(r.code if isinstance(r, ReasonCode) else r for r in given))
    if len(codes) > MAX_REASONS:
        raise InvalidInput(f"At most {MAX_REASONS} reasons.", field="reasons")
    if any(not isinstance(code, str) or not code for code in codes):
        raise InvalidInput("Reasons are feedback reason codes (GET /api/reason-codes/?kind=feedback).", field="reasons")
    found = {r.code: r for r in ReasonCode.objects.filter(kind=ReasonCode.Kind.FEEDBACK, code__in=codes)}
    unknown = [code for code in codes if code not in found]
    if unknown:
        choices = ", ".join(
            ReasonCode.objects.filter(kind=ReasonCode.Kind.FEEDBACK, is_active=True).values_list("code", flat=True)
        )
        raise InvalidInput(f"Unknown feedback reason {unknown[0]!r}; use one of: {choices}.", field="reasons")
    reasons = [found[code] for code in codes]
    for reason in reasons:
        if not reason.is_active and reason.pk not in kept:
            raise InvalidInput(f"{reason.label!r} is no longer an active feedback reason.", field="reasons")
        if request.point == FeedbackPoint.REJECTED and not reason.is_market_signal:
            raise InvalidInput(
                f"{reason.label!r} is a quality reason, and the reject reason already says what was wrong with this "
                "lead: give the rating, and any market signal you heard.",
                field="reasons",
            )
        if reason.requires_note and not note:
            raise InvalidInput(f"The reason {reason.label!r} needs a note that explains it.", field="note")
    return reasons


def _check_rater(actor: Actor, request: FeedbackRequest) -> None:
    if actor.user is None or not actor.user.is_active or actor.user_id != request.rater_id:
        rater = request.rater.get_full_name() or request.rater.get_username()
        raise NotAllowed(
            f"Only {rater}, the rep this lead was handed to, can rate it; managers and marketers read feedback.",
            code="forbidden_role",
        )


def lead_feedback_give(
    *,
    request: FeedbackRequest | int,
    actor: Actor,
    rating,
    reasons: Iterable[ReasonCode | str] = (),
    note: str = "",
    via: str = Via.APP,
    revision: int | None = None,
    at: datetime | None = None,
) -> LeadFeedback:
    """Answer a feedback request, or change the answer while its change window lasts; every version is kept.

    Only the rater may; the request must be pending (not expired or withdrawn), or answered less than
    FEEDBACK_CHANGE_DAYS ago. `revision`, when given, is the version the rater saw (0: unanswered): a change made
    since then (another tab, another link) makes this a conflict instead of silently undoing it. The same answer
    twice (a double click) changes nothing.
    """
    at = at or timezone.now()
    rating = _rating(rating)
    if not isinstance(note, str | None):
        raise InvalidInput("A note is text.", field="note")
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise InvalidInput(f"A note has at most {NOTE_MAX_LENGTH} characters; this one has {len(note)}.", field="note")
    request_id = request.pk if isinstance(request, FeedbackRequest) else int(request)
    with transaction.atomic():
        locked = (
            FeedbackRequest.objects.select_for_update(of=("self",))
            .select_related("rater", "handoff__lead")
            .filter(pk=request_id)
            .first()
        )
        if locked is None:
            raise InvalidInput(f"No feedback request with id {request_id}.", field="request")
        _check_rater(actor, locked)
        feedback = LeadFeedback.objects.select_for_update().filter(request=locked).first()
        current = feedback.revision if feedback is not None else 0
        if revision is not None and revision != current:
            raise WrongState(
                f"Your feedback on {locked.handoff.lead} changed since this page was opened: reload it.",
                code="superseded",
            )
        if feedback is None and locked.outcome != FeedbackOutcome.PENDING:
            raise WrongState(
                f"This request for feedback on {locked.handoff.lead} was {locked.get_outcome_display().lower()}: "
                "it can no longer be answered.",
                code="wrong_state",
            )
        if feedback is not None and at > change_deadline(feedback):
            raise WrongState(
                f"Feedback can be changed for {settings.FEEDBACK_CHANGE_DAYS} days after it was given; yours on "
                f"{locked.handoff.lead} was given on {feedback.given_at:%Y-%m-%d} and can no longer change.",
                code="change_window_over",
            )
        kept = set(feedback.reasons.values_list("pk", flat=True)) if feedback is not None else set()
        chosen = _reasons(reasons, locked, note, kept)
        if feedback is not None and (feedback.rating, {r.pk for r in chosen}, feedback.note) == (rating, kept, note):
            return feedback
        (group,) = _groups([(locked.qualified_at, locked.lead_source, locked.segment, locked.definition_id)])
        now_given = {r.pk for r in chosen}
        if feedback is None:
            feedback = LeadFeedback.objects.create(
                request=locked,
                handoff_id=locked.handoff_id,
                rater_id=locked.rater_id,
                rating=rating,
                note=note,
                definition_id=locked.definition_id,
                policy_id=locked.policy_id,
                given_at=at,
                changed_at=at,
            )
            FeedbackRequest.objects.filter(pk=locked.pk).update(outcome=FeedbackOutcome.ANSWERED, outcome_at=at)
            counts = {"pending": -1, "answered": 1, f"rated_{rating}": 1}
        else:
            counts = Counter({f"rated_{feedback.rating}": -1})
            counts[f"rated_{rating}"] += 1
            feedback.rating, feedback.note, feedback.changed_at = rating, note, at
            feedback.revision += 1
            feedback.save(update_fields=["rating", "note", "changed_at", "revision"])
        _tally(
            [(group, counts)],
            [(group, pk, 1) for pk in now_given - kept] + [(group, pk, -1) for pk in kept - now_given],
        )
        feedback.reasons.set(chosen)
        LeadFeedbackRevision.objects.create(
            feedback=feedback,
            revision=feedback.revision,
            rating=rating,
            reasons=[r.code for r in chosen],
            note=note,
            by=actor.user,
            via=via,
            at=at,
        )
    return feedback
