"""Roles as groups, the reason codes both teams start from, and a first lead definition."""
from django.db import migrations

ROLES = ["marketer", "sales_rep", "manager"]

REASONS = {
    "reject": [
        ("wrong_persona", "Wrong persona", False),
        ("wrong_region", "Wrong region", False),
        ("student", "Student", False),
        ("competitor", "Competitor", False),
        ("no_budget", "No budget", False),
        ("duplicate", "Duplicate", False),
        ("bad_contact_data", "Bad contact data", False),
        ("other", "Other", True),
    ],
    "recycle": [
        ("no_response", "No response after follow-up", False),
        ("not_ready", "Not ready to buy yet", False),
        ("timing", "Bad timing, revisit later", False),
        ("nurture", "Needs nurturing", False),
        ("other", "Other", True),
    ],
    "dispute": [
        ("meets_definition", "Meets the agreed lead definition", False),
        ("reason_wrong", "Rejection reason does not apply", False),
        ("not_contacted", "Rejected without contact", False),
        ("other", "Other", True),
    ],
    "feedback": [
        ("great_fit", "Great fit", False),
        ("wrong_contact", "Wrong contact", False),
        ("low_intent", "Low intent", False),
        ("other", "Other", True),
    ],
}

FIRST_DEFINITION = [
    {"field": "score", "op": ">=", "value": 60},
    {"field": "email", "op": "is_set"},
]


def forwards(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    ReasonCode = apps.get_model("handoff", "ReasonCode")
    LeadDefinition = apps.get_model("handoff", "LeadDefinition")
    for name in ROLES:
        Group.objects.get_or_create(name=name)
    for kind, rows in REASONS.items():
        for code, label, requires_note in rows:
            ReasonCode.objects.get_or_create(
                kind=kind, code=code, defaults={"label": label, "requires_note": requires_note}
            )
    if not LeadDefinition.objects.exists():
        LeadDefinition.objects.create(
            version=1,
            name="Engaged and reachable",
            description="Score of 60 or more, with an email address.",
            conditions=FIRST_DEFINITION,
            is_active=True,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("handoff", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
