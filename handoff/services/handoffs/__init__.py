"""The rules of engagement as a state machine: the only code that changes `Handoff.state`.

Every action works on a batch of handoffs (a batch of one from a button, hundreds from a bulk reject or a
sync page): rows are locked, every rule is checked before anything is written, the change is one set-based
update plus one event row per handoff, and follow-up work (SLA clocks, CRM write-back) is recorded in the
same transaction. Nothing is written when any handoff of the batch breaks a rule.

The package, one module per part: `rules` (the table and its checks), `machine` (the one write path and its
listeners), `actions` (every action after qualification) and `qualification` (the start of a handoff).
"""

from .actions import (
    handoff_accept,
    handoff_convert,
    handoff_dispute,
    handoff_pause,
    handoff_recycle,
    handoff_reject,
    handoff_resolve,
    handoff_resume,
    handoff_touch,
    handoffs_accept,
    handoffs_close,
    handoffs_convert,
    handoffs_reassign,
    handoffs_recycle,
    handoffs_reject,
)
from .machine import MAX_BATCH, on_transition
from .qualification import active_definition, handoff_qualify, handoffs_qualify, leads_qualify, leads_qualify_by_rule
from .rules import (
    MILESTONE_ACTIONS,
    PARTY_TEXT,
    REASON_KIND,
    RULES,
    TARGET,
    Action,
    Decision,
    Party,
    Rule,
    actions_of,
    actions_reader,
    allowed_actions,
    check,
    parties,
    parties_to,
)

__all__ = [
    "MAX_BATCH",
    "MILESTONE_ACTIONS",
    "PARTY_TEXT",
    "REASON_KIND",
    "RULES",
    "TARGET",
    "Action",
    "Decision",
    "Party",
    "Rule",
    "active_definition",
    "actions_of",
    "actions_reader",
    "allowed_actions",
    "check",
    "handoff_accept",
    "handoff_convert",
    "handoff_dispute",
    "handoff_pause",
    "handoff_qualify",
    "handoff_recycle",
    "handoff_reject",
    "handoff_resolve",
    "handoff_resume",
    "handoff_touch",
    "handoffs_accept",
    "handoffs_close",
    "handoffs_convert",
    "handoffs_qualify",
    "handoffs_reassign",
    "handoffs_recycle",
    "handoffs_reject",
    "leads_qualify",
    "leads_qualify_by_rule",
    "on_transition",
    "parties",
    "parties_to",
]
