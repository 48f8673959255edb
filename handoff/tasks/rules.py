"""Tasks of the lead definition rule."""
from celery import shared_task

from handoff.services.handoffs import leads_qualify_by_rule


@shared_task(name="handoff.qualify_by_rule", acks_late=True)
def qualify_by_rule(lead_ids: list[int] | None = None) -> int:
    """Qualify, as the rule, the given leads (all leads when None) that meet the active definition.

    Idempotent: a lead with an open handoff is skipped, so running it twice qualifies nothing more.
    Returns the number of handoffs started.
    """
    return len(leads_qualify_by_rule(lead_ids=lead_ids))
