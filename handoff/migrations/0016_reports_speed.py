"""Issue 12: what the reports speed-ups need in the schema: the day counts the reports add up (ReportDay), the
summary's generation (the reports' cache keys carry it), the facts' period indexes with the times whose percentiles
a report computes (read from the index alone), and partial indexes of the clocks still running (the few not
yet due at a report's time are read from them). The day counts are written by the next refresh of the report job
(within REPORT_REFRESH_SECONDS): the first one after this migration counts every day."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("handoff", "0015_feedback_speed"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ReportDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('week', models.DateField(help_text="The Monday of the day's week.")),
                ('lead_source', models.CharField(blank=True, max_length=255)),
                ('segment', models.CharField(blank=True, max_length=40)),
                ('handoffs', models.PositiveIntegerField(default=0)),
                ('accepted', models.PositiveIntegerField(default=0)),
                ('rejected', models.PositiveIntegerField(default=0)),
                ('converted', models.PositiveIntegerField(default=0)),
                ('recycled', models.PositiveIntegerField(default=0)),
                ('first', models.PositiveIntegerField(default=0)),
                ('second', models.PositiveIntegerField(default=0)),
                ('third', models.PositiveIntegerField(default=0)),
                ('fourth_plus', models.PositiveIntegerField(default=0)),
                ('accept_met', models.PositiveIntegerField(default=0)),
                ('accept_missed', models.PositiveIntegerField(default=0)),
                ('accept_running', models.PositiveIntegerField(default=0)),
                ('first_touch_met', models.PositiveIntegerField(default=0)),
                ('first_touch_missed', models.PositiveIntegerField(default=0)),
                ('first_touch_running', models.PositiveIntegerField(default=0)),
                ('follow_up_met', models.PositiveIntegerField(default=0)),
                ('follow_up_missed', models.PositiveIntegerField(default=0)),
                ('follow_up_running', models.PositiveIntegerField(default=0)),
                ('feedback_asked', models.PositiveIntegerField(default=0)),
                ('feedback_answered', models.PositiveIntegerField(default=0)),
                ('rating_sum', models.PositiveIntegerField(default=0)),
                ('rated', models.PositiveIntegerField(default=0)),
            ],
        ),
        migrations.AddField(
            model_name='reportrefresh',
            name='generation',
            field=models.CharField(blank=True, help_text="New at every refresh that changed a figure: the reports' cache keys carry it, so such a refresh retires every cached report.", max_length=32),
        ),
        migrations.AddIndex(
            model_name='reportfact',
            index=models.Index(condition=models.Q(('accept_status', 3)), fields=['accept_due_at'], name='report_wait_accept_idx'),
        ),
        migrations.AddIndex(
            model_name='reportfact',
            index=models.Index(condition=models.Q(('first_touch_status', 3)), fields=['first_touch_due_at'], name='report_wait_first_touch_idx'),
        ),
        migrations.AddIndex(
            model_name='reportfact',
            index=models.Index(condition=models.Q(('follow_up_status', 3)), fields=['follow_up_due_at'], name='report_wait_follow_up_idx'),
        ),
        migrations.AddField(
            model_name='reportday',
            name='definition',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='handoff.leaddefinition'),
        ),
        migrations.AddField(
            model_name='reportday',
            name='owner',
            field=models.ForeignKey(db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='reportday',
            name='policy',
            field=models.ForeignKey(db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='handoff.slapolicy'),
        ),
        migrations.AddField(
            model_name='reportday',
            name='reject_reason',
            field=models.ForeignKey(db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='handoff.reasoncode'),
        ),
        migrations.AddIndex(
            model_name='reportday',
            index=models.Index(fields=['day'], name='report_day_idx'),
        ),
        migrations.AddIndex(
            model_name='reportday',
            index=models.Index(fields=['owner', 'day'], name='report_day_owner_idx'),
        ),
        migrations.RemoveIndex(
            model_name='reportfact',
            name='report_fact_period_idx',
        ),
        migrations.RemoveIndex(
            model_name='reportfact',
            name='report_fact_owner_idx',
        ),
        migrations.AddIndex(
            model_name='reportfact',
            index=models.Index(fields=['qualified_at'], include=('accept_seconds', 'first_touch_seconds', 'connect_seconds', 'owner'), name='report_fact_period_idx'),
        ),
        migrations.AddIndex(
            model_name='reportfact',
            index=models.Index(fields=['owner', 'qualified_at'], include=('accept_seconds', 'first_touch_seconds', 'connect_seconds'), name='report_fact_owner_idx'),
        ),
    ]
