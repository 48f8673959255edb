"""Issue 11: what the feedback speed-ups need in the schema."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("handoff", "0014_routing")]

    operations = []
