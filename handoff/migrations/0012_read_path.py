"""Issue 13: indexes for the read path (each with a comment saying which query it serves)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("handoff", "0011_reports")]

    operations = [
        # A rep's handoffs newest hand-over first, with no state filter (GET /api/handoffs/, the rep's pages):
        # `owner_id = %s ORDER BY handed_at DESC, id DESC LIMIT 51` reads 51 index entries instead of sorting all
        # of the rep's rows, which (owner, state, -handed_at) could not avoid without a state.
        migrations.AddIndex(
            model_name="handoff",
            index=models.Index(fields=["owner", "-handed_at", "-id"], name="handoff_owner_handed_idx"),
        ),
        # Handoffs newest hand-over first over many owners: a marketer's or admin's list (every row) and a
        # manager's `(owner_id IN (team) OR owner_id IS NULL) ORDER BY handed_at DESC, id DESC`, read in index
        # order until the page is full instead of sorting the whole table.
        migrations.AddIndex(
            model_name="handoff",
            index=models.Index(fields=["-handed_at", "-id"], name="handoff_handed_idx"),
        ),
        # The same lists filtered by one state (`?state=qualified`, the team page's state filter): a manager's
        # `state = %s AND (owner_id IN (team) OR owner_id IS NULL) ORDER BY handed_at DESC, id DESC` reads only rows
        # of that state in order, instead of every row of the newest-first index until 51 of the team's match.
        migrations.AddIndex(
            model_name="handoff",
            index=models.Index(fields=["state", "-handed_at", "-id"], name="handoff_state_handed_idx"),
        ),
        # A rep's leads newest CRM creation first (GET /api/leads/): `owner_id = %s ORDER BY crm_created_at DESC,
        # id DESC`; lead_newest_idx serves the lists over every owner.
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(fields=["owner", "-crm_created_at", "-id"], name="lead_owner_newest_idx"),
        ),
        # `?breached=true|false` of the handoff lists: `EXISTS (SELECT 1 FROM milestone WHERE handoff_id = h.id AND
        # breached_at IS NOT NULL)` probes this small partial index per handoff instead of scanning every clock.
        migrations.AddIndex(
            model_name="milestone",
            index=models.Index(
                condition=models.Q(("breached_at__isnull", False)), fields=["handoff"], name="milestone_breached_idx"
            ),
        ),
    ]
