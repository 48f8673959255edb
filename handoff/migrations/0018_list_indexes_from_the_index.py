"""Issue 13: two indexes widened so that the rep's page reads them alone, not a heap page per row (each replaces one,
so the sync's writes keep the same number of indexes to maintain).

- `handoff_owner_state_idx` gains the id: the rep's "to do" list sorted by urgency (`ORDER BY` each handoff's next
  deadline, then `-handed_at, -id`: selectors/sla.py `by_urgency`) reads the rep's qualified and accepted handoffs
  from the index alone; before, 1,000 of them cost 1,000 heap pages.
- the lead's `(owner, is_deleted)` index gains the lead source: the source filter's choices, `SELECT DISTINCT
  lead_source FROM lead WHERE owner_id = …` (selectors/handoffs.py `lead_sources_of`), read 2,000 heap pages for a
  rep's 2,000 leads (5-12 ms a page view); it serves every `owner` / `owner, is_deleted` lookup as before.
"""
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("handoff", "0017_running_clocks_by_handoff"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(model_name="handoff", name="handoff_owner_state_idx"),
        migrations.AddIndex(
            model_name="handoff",
            index=models.Index(fields=["owner", "state", "-handed_at", "-id"], name="handoff_owner_state_idx"),
        ),
        migrations.RemoveIndex(model_name="lead", name="handoff_lea_owner_i_2fc5df_idx"),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(fields=["owner", "is_deleted", "lead_source"], name="lead_owner_source_idx"),
        ),
    ]
