"""Sales feedback on lead quality: ask (the request job), remind (the daily digest), answer (a rating and reasons).

- Feedback points, per SLA policy version: a handoff rejected, converted or recycled is noted by a listener of the
  state machine, in the transition's transaction; one accepted N business days ago (in its owner's calendar) is
  found as time passes. The request job (`feedback_requests_create`) turns both into requests set-based, one
  `INSERT … SELECT … ON CONFLICT DO NOTHING` per batch: a re-run, or a second worker at the same time, adds nothing.
- The digest (`feedback_digests_create`): one per rep and local working day, from FEEDBACK_DIGEST_TIME in the rep's
  own zone, listing every pending request; a request listed in FEEDBACK_DIGEST_REPEATS digests expires at the next.
  Written to an outbox and delivered after commit by the sender SLA notices use (`feedback_digests_send`).
- An answer (`lead_feedback_give`) comes from the rater only, while the request is pending or the feedback inside
  its change window; every version is kept.
- One-click links carry a signed, expiring token bound to the request, the rater, the rating and the feedback
  version it was made for (`feedback_link_token`, `feedback_link_read`).

One module per part: `points`, `requests`, `answers`, `links`, `digests`, `tallies` (and the shared `constants`).
"""

from .answers import lead_feedback_give  # noqa: F401
from .constants import DIGEST_WINDOW, LINK_SALT, MAX_REASONS, REQUEST_BATCH, REQUEST_TASK, SEND_TASK  # noqa: F401
from .digests import DigestResult, digest_time, feedback_digest_message, feedback_digests_create, feedback_digests_send  # noqa: F401
from .links import LinkClaim, LinkInvalid, feedback_link_read, feedback_link_token, feedback_link_urls  # noqa: F401
from .points import feedback_points_on_transition, feedback_requests_withdraw  # noqa: F401
from .requests import RequestsResult, accept_cutoff, feedback_requests_create  # noqa: F401
from .tallies import feedback_tallies_rebuild  # noqa: F401
