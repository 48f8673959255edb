"""The default business calendar (Mon–Fri 09:00–17:00, no holidays) and SLA policy v1, active."""
from django.conf import settings
from django.db import migrations

WEEKLY = [[["09:00", "17:00"]] for _ in range(5)] + [[], []]

SEGMENTS = [
    {
        "name": "hot",
        "when": [
            [{"field": "lead_source", "op": "=", "value": "Demo Request"}],
            [{"field": "score", "op": ">=", "value": 80}],
        ],
        "accept_minutes": 15,
        "first_touch_minutes": 120,
    },
    {"name": "standard", "when": [], "accept_minutes": 24 * 60, "first_touch_minutes": 120},
]


def create(apps, schema_editor):
    BusinessCalendar = apps.get_model("handoff", "BusinessCalendar")
    SlaPolicy = apps.get_model("handoff", "SlaPolicy")
    if not BusinessCalendar.objects.filter(is_default=True).exists():
        BusinessCalendar.objects.create(
            name="Default (Mon–Fri 9–17)",
            time_zone=getattr(settings, "SLA_DEFAULT_TIME_ZONE", "UTC"),
            weekly_hours=WEEKLY,
            is_default=True,
        )
    if not SlaPolicy.objects.exists():
        SlaPolicy.objects.create(
            version=1,
            name="Rules of engagement v1",
            description="Hot leads (demo requests, score ≥ 80) accepted within 15 business minutes, others within "
            "24 business hours; first touch within 2 business hours; 5 attempts in 7 business days; reminder at "
            "75 %; a breach notifies the manager.",
            segments=SEGMENTS,
            follow_up_attempts=5,
            follow_up_minutes=7 * 8 * 60,
            reminder_share="0.75",
            escalation="notify",
            is_active=True,
        )


def remove(apps, schema_editor):
    apps.get_model("handoff", "SlaPolicy").objects.filter(version=1, milestones__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("handoff", "0004_sla")]
    operations = [migrations.RunPython(create, remove)]
