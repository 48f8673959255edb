"""Issue 13: the two indexes that serve lists over many owners newest first (a manager's team and the queue, a
marketer's every row; with `?state=` or without) carry the owner (PostgreSQL: `INCLUDE`; other databases build them
as before).

The API's handoff list now finds its page by ids and positions alone, then reads the page's rows by id
(api/handoff_json.py `page_positions`, `page_rows`). With the owner in the index, PostgreSQL finds a manager's page
from the index alone (an index-only scan): the other teams' rows it passes over cost an index entry each, not a
table read each. At 1,000,000 handoffs a team of 50,000 is one row in twenty, and `?breached=true` passed over
about 4,000 of them for a page. Each index replaces one of the same name and keys, so writes maintain as many
indexes as before.
"""
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("handoff", "0019_next_due_at_kept_on_the_handoff"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(model_name="handoff", name="handoff_handed_idx"),
        migrations.RemoveIndex(model_name="handoff", name="handoff_state_handed_idx"),
        migrations.AddIndex(
            model_name="handoff",
            index=models.Index(fields=["-handed_at", "-id"], include=("owner",), name="handoff_handed_idx"),
        ),
        migrations.AddIndex(
            model_name="handoff",
            index=models.Index(
                fields=["state", "-handed_at", "-id"], include=("owner",), name="handoff_state_handed_idx"
            ),
        ),
    ]
