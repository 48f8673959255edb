"""The domain model, one module per concept, re-exported here."""
from .handoffs import Handoff, HandoffEvent, HandoffState, Touch
from .leads import Lead, LeadDefinition, ReasonCode
from .people import RepProfile, Role, Team

__all__ = [
    "Handoff",
    "HandoffEvent",
    "HandoffState",
    "Lead",
    "LeadDefinition",
    "ReasonCode",
    "RepProfile",
    "Role",
    "Team",
    "Touch",
]
