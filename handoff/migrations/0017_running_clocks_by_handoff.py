"""Issues 13 and 14: the rep's and the manager's lists sort by each handoff's next deadline, `ORDER BY (SELECT due_at
FROM milestone WHERE handoff_id = h.id AND met_at IS NULL AND paused_at IS NULL AND stopped_at IS NULL ORDER BY
due_at LIMIT 1)` (selectors/sla.py `with_next_deadline`, `by_urgency`), one probe per listed handoff. This partial
index on (handoff, due_at) of the ticking clocks answers each probe from the index alone instead of reading every
clock of the handoff from the table. Breached clocks stay in it (they lead the list), so flagging one adds one entry,
measured with bench/sla_scan_bench.py (README, "Performance")."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("handoff", "0016_reports_speed"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="milestone",
            index=models.Index(
                condition=models.Q(("met_at__isnull", True), ("paused_at__isnull", True), ("stopped_at__isnull", True)),
                fields=["handoff", "due_at"],
                name="milestone_ticking_idx",
            ),
        ),
    ]
