"""Issue 15: routing rules, territories, rep weights, caps, away periods, routing audit (schema only: the demo's
rules are seeded by `seed_demo`)."""

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("handoff", "0013_owner_hours_and_contact"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='TeamRouting',
            fields=[
                ('team', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='routing', serialize=False, to='handoff.team')),
                ('skip_outside_hours', models.BooleanField(default=False, help_text='Give leads only to reps inside their working hours right now (their calendar: hours, holidays); otherwise a rep gets leads whenever they are not away.')),
            ],
            options={
                'verbose_name': 'team routing',
            },
        ),
        migrations.AlterField(
            model_name='handoff',
            name='qualified_by_kind',
            field=models.CharField(choices=[('user', 'Person'), ('rule', 'Lead definition rule'), ('sync', 'CRM sync'), ('system', 'System (SLA escalation)'), ('routing', 'Routing')], default='user', max_length=8),
        ),
        migrations.AlterField(
            model_name='handoffevent',
            name='actor_kind',
            field=models.CharField(choices=[('user', 'Person'), ('rule', 'Lead definition rule'), ('sync', 'CRM sync'), ('system', 'System (SLA escalation)'), ('routing', 'Routing')], max_length=8),
        ),
        migrations.CreateModel(
            name='RepRouting',
            fields=[
                ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='routing', serialize=False, to=settings.AUTH_USER_MODEL)),
                ('weight', models.PositiveSmallIntegerField(default=1, help_text='Relative share: a rep at 2 gets twice the leads of 1.', validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(100)])),
                ('daily_cap', models.PositiveIntegerField(blank=True, help_text="At most this many leads a day (the rep's day); empty: no cap.", null=True, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(10000)])),
                ('open_cap', models.PositiveIntegerField(blank=True, help_text='No new lead while the rep holds this many open handoffs; empty: no cap.', null=True, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(10000)])),
                ('credit', models.BigIntegerField(default=0, editable=False)),
                ('assigned', models.PositiveIntegerField(default=0, editable=False, help_text='Leads given to the rep, all told.')),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
            options={
                'verbose_name': 'rep routing',
                'constraints': [models.CheckConstraint(condition=models.Q(('weight__gte', 1)), name='rep_routing_weight_positive')],
            },
        ),
        migrations.CreateModel(
            name='RoutingRules',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('version', models.PositiveIntegerField(unique=True)),
                ('name', models.CharField(max_length=100)),
                ('description', models.TextField(blank=True)),
                ('territories', models.JSONField(blank=True, default=list, help_text='First match wins. [{"name": "DACH", "conditions": [{"field": "country", "op": "in", "value": ["DE", "AT", "CH"]}], "team": "EMEA"}, …]: conditions as in the lead definition (all must hold), plus "segment" (the lead\'s SLA segment); "team" by name or id (stored as the id).')),
                ('is_active', models.BooleanField(default=False)),
                ('first_routed_at', models.DateTimeField(blank=True, editable=False, help_text='When this version first routed a lead: frozen from then on.', null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('catch_all_team', models.ForeignKey(help_text='Where a lead in no territory goes.', on_delete=django.db.models.deletion.PROTECT, related_name='+', to='handoff.team')),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'routing rules version',
                'verbose_name_plural': 'routing rules',
                'ordering': ['-version'],
            },
        ),
        migrations.CreateModel(
            name='HandoffRouting',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('territory', models.CharField(blank=True, help_text="Empty: the catch-all team's.", max_length=100)),
                ('status', models.CharField(choices=[('queued', 'Waiting in the team queue'), ('routed', 'Routed'), ('taken', 'Given to a rep otherwise')], default='queued', max_length=8)),
                ('queued_at', models.DateTimeField(help_text='When it last came to the team queue.')),
                ('routed_at', models.DateTimeField(blank=True, null=True)),
                ('attempts', models.PositiveIntegerField(default=0, help_text='Routing passes that looked at it this time.')),
                ('excluded', models.JSONField(blank=True, default=list, help_text='User ids of reps who breached it: never again.')),
                ('manager_told_at', models.DateTimeField(blank=True, help_text="When the team's manager was told no rep could take it (once per wait).", null=True)),
                ('handoff', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='routing', to='handoff.handoff')),
                ('routed_to', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('team', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='handoff.team')),
                ('rules', models.ForeignKey(help_text='The version that routed it.', on_delete=django.db.models.deletion.PROTECT, related_name='routings', to='handoff.routingrules')),
            ],
            options={
                'verbose_name': 'handoff routing',
            },
        ),
        migrations.CreateModel(
            name='AwayPeriod',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('starts_on', models.DateField()),
                ('ends_on', models.DateField(help_text='The last day away (included).')),
                ('note', models.CharField(blank=True, max_length=200)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('set_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('user', models.ForeignKey(help_text='A sales rep.', limit_choices_to={'groups__name': 'sales_rep'}, on_delete=django.db.models.deletion.CASCADE, related_name='away_periods', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['starts_on', 'id'],
                'indexes': [models.Index(fields=['user', 'ends_on'], name='away_user_end_idx')],
                'constraints': [models.CheckConstraint(condition=models.Q(('ends_on__gte', models.F('starts_on'))), name='away_ends_after_it_starts')],
            },
        ),
        migrations.CreateModel(
            name='RepRoutingDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField(help_text="The rep's local date.")),
                ('assigned', models.PositiveIntegerField(default=0)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('user', 'day'), name='one_routing_day_per_rep')],
            },
        ),
        migrations.CreateModel(
            name='RoutingNotice',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('sending', 'Sending'), ('sent', 'Sent'), ('failed', 'Failed (gave up after retries)')], default='pending', max_length=8)),
                ('recipients', models.TextField(blank=True, help_text='Who it went to, filled when sent.')),
                ('email_sent_at', models.DateTimeField(blank=True, null=True)),
                ('slack_sent_at', models.DateTimeField(blank=True, null=True)),
                ('attempts', models.PositiveSmallIntegerField(default=0)),
                ('next_attempt_at', models.DateTimeField()),
                ('claimed_until', models.DateTimeField(blank=True, help_text='A sender is working on it until then.', null=True)),
                ('last_error', models.TextField(blank=True)),
                ('created_at', models.DateTimeField()),
                ('sent_at', models.DateTimeField(blank=True, null=True)),
                ('handoff_ids', models.JSONField(default=list)),
                ('reasons', models.JSONField(blank=True, default=dict, help_text='username → why they could not take leads.')),
                ('team', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='handoff.team')),
            ],
            options={
                'ordering': ['-created_at', '-id'],
                'indexes': [models.Index(condition=models.Q(('status__in', ['pending', 'sending'])), fields=['next_attempt_at'], name='routing_notice_due_idx')],
            },
        ),
        migrations.AddConstraint(
            model_name='routingrules',
            constraint=models.UniqueConstraint(condition=models.Q(('is_active', True)), fields=('is_active',), name='one_active_routing_rules'),
        ),
        migrations.AddIndex(
            model_name='handoffrouting',
            index=models.Index(condition=models.Q(('status', 'queued')), fields=['team', 'queued_at'], name='routing_queue_idx'),
        ),
    ]
