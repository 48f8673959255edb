"""Issue 12: what the reports speed-ups need in the schema."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("handoff", "0015_feedback_speed")]

    operations = []
