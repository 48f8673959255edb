"""The SLA engine's writes, one module per stage.

- `milestones`: each handoff's milestones started, met, stopped, recomputed, paused and resumed as it moves
  (an `on_transition` listener of the state machine);
- `crm_status`: milestones the CRM moves (a pause status, a "working" status as a first touch);
- `scan`: the breach and reminder scan that flags milestones and writes their notifications;
- `escalation`: what a breach does to the handoff, as the policy says (back to the queue, or recycled);
- `policies`: SLA policy versions saved and activated.

Calendars are read in `handoff.selectors.calendars`, business time is `handoff.businesstime`.
"""

from .crm_status import (
    crm_statuses_moving_milestones,
    milestones_first_touch_by_crm_status,
    milestones_follow_crm_status,
)
from .escalation import ESCALATION_REASON, sla_escalate
from .milestones import (
    milestones_meet,
    milestones_on_transition,
    milestones_pause,
    milestones_recompute,
    milestones_resume,
    milestones_start,
    milestones_stop,
)
from .policies import sla_policy_save
from .scan import SCAN_BATCH, ScanResult, sla_scan, sla_scan_all

__all__ = [
    "ESCALATION_REASON",
    "SCAN_BATCH",
    "ScanResult",
    "crm_statuses_moving_milestones",
    "milestones_first_touch_by_crm_status",
    "milestones_follow_crm_status",
    "milestones_meet",
    "milestones_on_transition",
    "milestones_pause",
    "milestones_recompute",
    "milestones_resume",
    "milestones_start",
    "milestones_stop",
    "sla_escalate",
    "sla_policy_save",
    "sla_scan",
    "sla_scan_all",
]
