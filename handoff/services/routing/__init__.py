"""Routing: every lead without an owner gets one, by territory and a fair weighted round robin, written back to the CRM.

- `versions`: routing rules versions saved, revised (N+1 once applied) and activated;
- `assign`: the routing pass (set-based over a batch), the clocks that follow the new owner, and the
  `on_transition` listener that routes a handoff starting without an owner and counts a manager's reassignment;
- `reps`: weights, caps, away periods and a team's setting;
- `notices`: the mail telling a manager that leads wait in their queue;
- `queue`: the periodic retry of the queue, and the SLA escalation's way back into it.
"""

from .assign import ACTION, RouteResult, clocks_follow_owner, handoffs_given_by_hand, handoffs_route
from .notices import routing_notices_send
from .queue import ROUTING_BATCH, routing_queue_retry, routing_requeue
from .reps import away_period_cancel, away_period_set, rep_routing_update, team_routing_update
from .versions import routing_rules_activate, routing_rules_revise, routing_rules_save

__all__ = [
    "ACTION",
    "ROUTING_BATCH",
    "RouteResult",
    "away_period_cancel",
    "away_period_set",
    "clocks_follow_owner",
    "handoffs_given_by_hand",
    "handoffs_route",
    "rep_routing_update",
    "routing_notices_send",
    "routing_queue_retry",
    "routing_requeue",
    "routing_rules_activate",
    "routing_rules_revise",
    "routing_rules_save",
    "team_routing_update",
]
