"""A touch keeps when it happened (`at`) and when it was logged (`logged_at`); earlier touches were logged as they
happened, as far as anyone can tell, so they get logged_at = at."""

from django.db import migrations, models


def logged_when_it_happened(apps, schema_editor):
    apps.get_model("handoff", "Touch").objects.update(logged_at=models.F("at"))


class Migration(migrations.Migration):
    dependencies = [("handoff", "0007_sla_breach_reason")]

    operations = [
        migrations.AddField(
            model_name="touch",
            name="logged_at",
            field=models.DateTimeField(null=True, help_text="When it was logged here."),
        ),
        migrations.RunPython(logged_when_it_happened, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="touch",
            name="logged_at",
            field=models.DateTimeField(help_text="When it was logged here."),
        ),
        migrations.AlterField(
            model_name="touch",
            name="at",
            field=models.DateTimeField(
                help_text="When it happened: the rep may log it after the fact, within a window."
            ),
        ),
        migrations.AddConstraint(
            model_name="touch",
            constraint=models.CheckConstraint(
                condition=models.Q(at__lte=models.F("logged_at")), name="touch_not_logged_before_it_happened"
            ),
        ),
    ]
