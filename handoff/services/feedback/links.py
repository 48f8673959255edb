"""One-click links: signed, expiring tokens bound to the request, the rater, the rating and the feedback version."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

from handoff.models import (
    FeedbackRequest,
)
from handoff.models.feedback import RATING_LABELS, RATING_MAX, RATING_MIN
from handoff.selectors.feedback import (
    feedback_revision,
)

from .constants import LINK_SALT

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LinkClaim:
    request_id: int
    rater_id: int
    rating: int
    revision: int


class LinkInvalid(Exception):
    """A one-click link that cannot be used: `reason` is "expired" or "invalid" (forged, altered, another purpose)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def feedback_link_token(*, request_id: int, rater_id: int, rating: int, revision: int) -> str:
    """A token for "rater rates request `rating`", valid for FEEDBACK_LINK_DAYS and only while the feedback is at
    `revision` (0: not answered yet), so a link used once, or made before a change, cannot change it again."""
    return signing.dumps({"q": request_id, "u": rater_id, "r": rating, "v": revision}, salt=LINK_SALT)


def feedback_link_read(token: str) -> LinkClaim:
    """The claim a one-click token carries; LinkInvalid when it is expired, forged, altered or made for another use."""
    try:
        data = signing.loads(token, salt=LINK_SALT, max_age=timedelta(days=settings.FEEDBACK_LINK_DAYS))
    except signing.SignatureExpired:
        raise LinkInvalid("expired") from None
    except signing.BadSignature:
        raise LinkInvalid("invalid") from None
    fields = ("q", "u", "r", "v")
    if not isinstance(data, dict) or set(data) != set(fields) or not all(type(data[k]) is int for k in fields):
        raise LinkInvalid("invalid")
    if not RATING_MIN <= data["r"] <= RATING_MAX:
        raise LinkInvalid("invalid")
    return LinkClaim(request_id=data["q"], rater_id=data["u"], rating=data["r"], revision=data["v"])


def feedback_link_page() -> str:
    """The one-click page's absolute URL with the token left as "TOKEN": reversed once for a whole digest."""
    return settings.SITE_URL.rstrip("/") + reverse("feedback_link", args=["TOKEN"])


def feedback_link_urls(request: FeedbackRequest, *, page: str | None = None) -> list[tuple[int, str, str]]:
    """(rating, its label, absolute one-click URL) for 1–5, for the rater of this request at its current version.

    `page`: `feedback_link_page()`, when many requests' links are made at once (the token is the only part that
    changes). The tokens are `feedback_link_token`'s, signed by one signer.
    """
    page = page or feedback_link_page()
    signer = signing.TimestampSigner(salt=LINK_SALT)  # what signing.dumps does, made once for the five
    revision = feedback_revision(request)
    return [
        (
            rating,
            RATING_LABELS[rating],
            page.replace(
                "TOKEN", signer.sign_object({"q": request.pk, "u": request.rater_id, "r": rating, "v": revision})
            ),
        )
        for rating in range(RATING_MIN, RATING_MAX + 1)
    ]
