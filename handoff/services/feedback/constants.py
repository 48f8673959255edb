"""What the feedback modules share: task names, batch sizes, limits, the points state-machine actions reach."""

from __future__ import annotations

from datetime import timedelta

from handoff.models import (
    FeedbackPoint,
)

REQUEST_TASK = "handoff.feedback_request"
SEND_TASK = "handoff.feedback_send_digests"
REQUEST_BATCH = 100_000  # reached points turned into requests per statement (one statement each on PostgreSQL)
DIGEST_WINDOW = timedelta(hours=3)  # from FEEDBACK_DIGEST_TIME: when a rep's digest of the day may be written
MAX_REASONS = 10
LINK_SALT = "handoff.feedback.one-click-rating"

_POINT_OF_ACTION = {
    "reject": FeedbackPoint.REJECTED,
    "convert": FeedbackPoint.CONVERTED,
    "recycle": FeedbackPoint.RECYCLED,
}
