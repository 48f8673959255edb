"""Issue 14: the owner's hours (team calendars / rep time zone), lead phone numbers, and other page needs."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("handoff", "0012_read_path")]

    operations = []
