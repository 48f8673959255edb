"""The domain model, one module per concept, re-exported here."""
from .feedback import (
    FeedbackDigest,
    FeedbackOutcome,
    FeedbackPoint,
    FeedbackPointReached,
    FeedbackReasonTally,
    FeedbackRequest,
    FeedbackScan,
    FeedbackTally,
    LeadFeedback,
    LeadFeedbackRevision,
)
from .handoffs import Handoff, HandoffEvent, HandoffState, Touch
from .leads import Lead, LeadDefinition, ReasonCode
from .people import RepProfile, Role, Team
from .reports import ClockStatus, ReportDispute, ReportFact, ReportRefresh, WeeklySummary
from .sla import BusinessCalendar, CalendarDay, Milestone, MilestoneKind, SlaNotification, SlaPolicy
from .sync import SyncLease, SyncRun, SyncState, WriteBack

__all__ = [
    "BusinessCalendar",
    "CalendarDay",
    "ClockStatus",
    "FeedbackDigest",
    "FeedbackOutcome",
    "FeedbackPoint",
    "FeedbackPointReached",
    "FeedbackReasonTally",
    "FeedbackRequest",
    "FeedbackScan",
    "FeedbackTally",
    "LeadFeedback",
    "LeadFeedbackRevision",
    "Milestone",
    "MilestoneKind",
    "SlaNotification",
    "SlaPolicy",
    "Handoff",
    "HandoffEvent",
    "HandoffState",
    "Lead",
    "LeadDefinition",
    "ReasonCode",
    "RepProfile",
    "ReportDispute",
    "ReportFact",
    "ReportRefresh",
    "Role",
    "SyncLease",
    "SyncRun",
    "SyncState",
    "Team",
    "Touch",
    "WeeklySummary",
    "WriteBack",
]
