"""The feedback reasons reps start from (quality reasons, and market signals marketing rarely hears), added beside
the four seeded with the reason codes; an admin maintains them from here."""

from django.db import migrations

QUALITY = [
    ("wrong_persona", "Wrong persona"),
    ("no_budget", "No budget"),
    ("bad_timing", "Bad timing"),
    ("bad_contact_data", "Bad contact data"),
    ("duplicate", "Duplicate"),
    ("student_or_competitor", "Student or competitor"),
]
SIGNALS = [
    ("competitor_mentioned", "Competitor mentioned"),
    ("pricing_objection", "Pricing objection"),
    ("product_gap", "Product gap"),
]
# Seeded as "Low intent" with the first reason codes; named for what reps say, unless an admin renamed it.
RELABEL = ("low_intent", "Low intent", "No or low intent")


def forwards(apps, schema_editor):
    ReasonCode = apps.get_model("handoff", "ReasonCode")
    for rows, signal in ((QUALITY, False), (SIGNALS, True)):
        for code, label in rows:
            ReasonCode.objects.get_or_create(
                kind="feedback", code=code, defaults={"label": label, "is_market_signal": signal}
            )
    code, seeded, label = RELABEL
    ReasonCode.objects.filter(kind="feedback", code=code, label=seeded).update(label=label)


def backwards(apps, schema_editor):
    ReasonCode = apps.get_model("handoff", "ReasonCode")
    LeadFeedback = apps.get_model("handoff", "LeadFeedback")
    used = set(LeadFeedback.reasons.through.objects.values_list("reasoncode_id", flat=True))
    codes = [code for code, _ in QUALITY + SIGNALS]
    ReasonCode.objects.filter(kind="feedback", code__in=codes).exclude(pk__in=used).delete()
    code, seeded, label = RELABEL
    ReasonCode.objects.filter(kind="feedback", code=code, label=label).update(label=seeded)


class Migration(migrations.Migration):
    dependencies = [("handoff", "0009_feedback")]

    operations = [migrations.RunPython(forwards, backwards)]
