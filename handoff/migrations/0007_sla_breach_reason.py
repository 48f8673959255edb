"""The recycle reason the SLA escalation gives when it recycles a lead nobody followed up in time."""

from django.db import migrations

CODE = "sla_breach"


def forwards(apps, schema_editor):
    ReasonCode = apps.get_model("handoff", "ReasonCode")
    ReasonCode.objects.get_or_create(
        kind="recycle", code=CODE, defaults={"label": "Not followed up within the SLA", "requires_note": False}
    )


def backwards(apps, schema_editor):
    ReasonCode = apps.get_model("handoff", "ReasonCode")
    ReasonCode.objects.filter(kind="recycle", code=CODE).delete()


class Migration(migrations.Migration):
    dependencies = [("handoff", "0006_sla_lean_flag")]

    operations = [migrations.RunPython(forwards, backwards)]
