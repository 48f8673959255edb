"""handoff: the marketing-to-sales lead handoff, its rules of engagement and its service levels."""
