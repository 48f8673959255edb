"""Sales feedback on lead quality: requests, feedback and its history, the digest outbox, the report's tallies and
the job's bookkeeping; feedback points on SLA policy versions; market signals among reason codes; the index the
job's look for accepted handoffs uses."""

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('handoff', '0008_touch_logged_at'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='FeedbackDigest',
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
                ('day', models.DateField(help_text="The rep's local date.")),
                ('listed', models.PositiveSmallIntegerField(default=0, help_text='Requests it listed when it was made.')),
            ],
            options={
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='FeedbackPointReached',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('point', models.CharField(choices=[('rejected', 'Rejected'), ('accepted', 'Worked for a few business days'), ('converted', 'Converted'), ('recycled', 'Recycled')], max_length=12)),
                ('reached_at', models.DateTimeField()),
                ('qualified_at', models.DateTimeField()),
                ('lead_source', models.CharField(blank=True, max_length=255)),
                ('segment', models.CharField(blank=True, max_length=40)),
            ],
            options={
                'ordering': ['pk'],
            },
        ),
        migrations.CreateModel(
            name='FeedbackReasonTally',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('lead_source', models.CharField(blank=True, max_length=255)),
                ('segment', models.CharField(blank=True, max_length=40)),
                ('given', models.IntegerField(default=0)),
            ],
            options={
                'ordering': ['day'],
            },
        ),
        migrations.CreateModel(
            name='FeedbackRequest',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('point', models.CharField(choices=[('rejected', 'Rejected'), ('accepted', 'Worked for a few business days'), ('converted', 'Converted'), ('recycled', 'Recycled')], max_length=12)),
                ('point_at', models.DateTimeField(help_text='When the handoff reached the feedback point.')),
                ('asked_at', models.DateTimeField()),
                ('qualified_at', models.DateTimeField(help_text="When the lead was handed over (the report's period and weeks).")),
                ('lead_source', models.CharField(blank=True, max_length=255)),
                ('segment', models.CharField(blank=True, help_text='The SLA segment that timed the handoff.', max_length=40)),
                ('digests', models.PositiveSmallIntegerField(default=0, help_text='Digests that listed it.')),
                ('last_digest_on', models.DateField(blank=True, help_text="The rep's local date of the last digest.", null=True)),
                ('outcome', models.CharField(choices=[('pending', 'Waiting for the rep'), ('answered', 'Answered'), ('expired', 'Expired (not given)'), ('withdrawn', 'Withdrawn')], default='pending', max_length=10)),
                ('outcome_at', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'ordering': ['-asked_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='FeedbackScan',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('business_days', models.PositiveSmallIntegerField()),
                ('accepted_before', models.DateTimeField(help_text='Handoffs accepted before this instant have been looked at.')),
                ('checked_at', models.DateTimeField(help_text='When the job last looked: the cut-off moves once a local day.')),
            ],
        ),
        migrations.CreateModel(
            name='FeedbackTally',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('lead_source', models.CharField(blank=True, max_length=255)),
                ('segment', models.CharField(blank=True, max_length=40)),
                ('pending', models.IntegerField(default=0)),
                ('answered', models.IntegerField(default=0)),
                ('expired', models.IntegerField(default=0)),
                ('rated_1', models.IntegerField(default=0)),
                ('rated_2', models.IntegerField(default=0)),
                ('rated_3', models.IntegerField(default=0)),
                ('rated_4', models.IntegerField(default=0)),
                ('rated_5', models.IntegerField(default=0)),
            ],
            options={
                'ordering': ['day'],
            },
        ),
        migrations.CreateModel(
            name='LeadFeedback',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('rating', models.PositiveSmallIntegerField(validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(5)])),
                ('note', models.TextField(blank=True, max_length=2000)),
                ('given_at', models.DateTimeField(help_text='When it was first given: the change window runs from here.')),
                ('changed_at', models.DateTimeField()),
                ('revision', models.PositiveSmallIntegerField(default=1)),
            ],
            options={
                'verbose_name': 'lead feedback',
                'verbose_name_plural': 'lead feedback',
                'ordering': ['-changed_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='LeadFeedbackRevision',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('revision', models.PositiveSmallIntegerField()),
                ('rating', models.PositiveSmallIntegerField()),
                ('reasons', models.JSONField(blank=True, default=list, help_text='The reason codes given.')),
                ('note', models.TextField(blank=True)),
                ('via', models.CharField(choices=[('link', 'One-click link from the digest'), ('app', "The app's pages"), ('api', 'The API')], max_length=4)),
                ('at', models.DateTimeField()),
            ],
            options={
                'ordering': ['feedback', 'revision'],
            },
        ),
        migrations.AddField(
            model_name='reasoncode',
            name='is_market_signal',
            field=models.BooleanField(default=False, help_text='Feedback only: what the market told the rep (a competitor, a pricing objection, a product gap) rather than how good the lead was.'),
        ),
        migrations.AddField(
            model_name='slapolicy',
            name='feedback_after_accept_days',
            field=models.PositiveSmallIntegerField(blank=True, default=5, help_text="Ask the rep to rate a lead this many business days (in the owner's calendar) after accepting it, if it is still open; empty: never.", null=True, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(60)]),
        ),
        migrations.AddField(
            model_name='slapolicy',
            name='feedback_on_convert',
            field=models.BooleanField(default=True, help_text='Ask the rep to rate a lead that converted.'),
        ),
        migrations.AddField(
            model_name='slapolicy',
            name='feedback_on_recycle',
            field=models.BooleanField(default=True, help_text='Ask the rep to rate a lead recycled after they accepted or rejected it.'),
        ),
        migrations.AddField(
            model_name='slapolicy',
            name='feedback_on_reject',
            field=models.BooleanField(default=True, help_text='Ask the rep to rate a lead they rejected (the rating only: the reject reason says why).'),
        ),
        migrations.AddIndex(
            model_name='handoff',
            index=models.Index(condition=models.Q(('state', 'accepted')), fields=['accepted_at'], name='handoff_accepted_idx'),
        ),
        migrations.AddField(
            model_name='feedbackdigest',
            name='rater',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='feedbackpointreached',
            name='handoff',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='handoff.handoff'),
        ),
        migrations.AddField(
            model_name='feedbackpointreached',
            name='definition',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='handoff.leaddefinition'),
        ),
        migrations.AddField(
            model_name='feedbackpointreached',
            name='policy',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, help_text="The policy of the handoff's accept clock (none: unclocked).", null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='handoff.slapolicy'),
        ),
        migrations.AddField(
            model_name='feedbackpointreached',
            name='reject_reason',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='handoff.reasoncode'),
        ),
        migrations.AddField(
            model_name='feedbackpointreached',
            name='rater',
            field=models.ForeignKey(db_index=False, help_text="The handoff's owner when it reached the point: who is asked.", on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='feedbackreasontally',
            name='definition',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='handoff.leaddefinition'),
        ),
        migrations.AddField(
            model_name='feedbackreasontally',
            name='reason',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='handoff.reasoncode'),
        ),
        migrations.AddField(
            model_name='feedbackrequest',
            name='definition',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='handoff.leaddefinition'),
        ),
        migrations.AddField(
            model_name='feedbackrequest',
            name='handoff',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='feedback_requests', to='handoff.handoff'),
        ),
        migrations.AddField(
            model_name='feedbackrequest',
            name='policy',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, help_text='The SLA policy version whose feedback points asked (the one that timed the handoff).', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='handoff.slapolicy'),
        ),
        migrations.AddField(
            model_name='feedbackrequest',
            name='rater',
            field=models.ForeignKey(db_constraint=False, db_index=False, help_text="The handoff's owner when the feedback was asked for.", on_delete=django.db.models.deletion.PROTECT, related_name='feedback_requests', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='feedbackrequest',
            name='reject_reason',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, help_text='Why the rep rejected the lead, when they did.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='handoff.reasoncode'),
        ),
        migrations.AddField(
            model_name='feedbackscan',
            name='calendar',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='handoff.businesscalendar'),
        ),
        migrations.AddField(
            model_name='feedbacktally',
            name='definition',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='handoff.leaddefinition'),
        ),
        migrations.AddField(
            model_name='leadfeedback',
            name='definition',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='handoff.leaddefinition'),
        ),
        migrations.AddField(
            model_name='leadfeedback',
            name='handoff',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='feedback', to='handoff.handoff'),
        ),
        migrations.AddField(
            model_name='leadfeedback',
            name='policy',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='handoff.slapolicy'),
        ),
        migrations.AddField(
            model_name='leadfeedback',
            name='rater',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='leadfeedback',
            name='reasons',
            field=models.ManyToManyField(blank=True, limit_choices_to={'kind': 'feedback'}, related_name='+', to='handoff.reasoncode'),
        ),
        migrations.AddField(
            model_name='leadfeedback',
            name='request',
            field=models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='feedback', to='handoff.feedbackrequest'),
        ),
        migrations.AddField(
            model_name='leadfeedbackrevision',
            name='by',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='leadfeedbackrevision',
            name='feedback',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='revisions', to='handoff.leadfeedback'),
        ),
        migrations.AddIndex(
            model_name='feedbackdigest',
            index=models.Index(condition=models.Q(('status__in', ['pending', 'sending'])), fields=['next_attempt_at'], name='feedback_digest_due_idx'),
        ),
        migrations.AddConstraint(
            model_name='feedbackdigest',
            constraint=models.UniqueConstraint(fields=('rater', 'day'), name='one_feedback_digest_per_rep_day'),
        ),
        migrations.AddConstraint(
            model_name='feedbackreasontally',
            constraint=models.UniqueConstraint(fields=('day', 'lead_source', 'segment', 'definition', 'reason'), name='one_feedback_reason_tally_per_group'),
        ),
        migrations.AddIndex(
            model_name='feedbackrequest',
            index=models.Index(condition=models.Q(('outcome', 'pending')), fields=['rater', 'asked_at'], name='feedback_request_pending_idx'),
        ),
        migrations.AddIndex(
            model_name='feedbackrequest',
            index=models.Index(fields=['rater', 'outcome'], name='feedback_request_rater_idx'),
        ),
        migrations.AddIndex(
            model_name='feedbackrequest',
            index=models.Index(fields=['qualified_at'], name='feedback_request_period_idx'),
        ),
        migrations.AddConstraint(
            model_name='feedbackrequest',
            constraint=models.UniqueConstraint(fields=('handoff', 'rater'), name='one_feedback_request_per_handoff_rater'),
        ),
        migrations.AddConstraint(
            model_name='feedbackscan',
            constraint=models.UniqueConstraint(fields=('calendar', 'business_days'), name='one_feedback_scan_per_calendar_days'),
        ),
        migrations.AddConstraint(
            model_name='feedbacktally',
            constraint=models.UniqueConstraint(fields=('day', 'lead_source', 'segment', 'definition'), name='one_feedback_tally_per_group'),
        ),
        migrations.AddConstraint(
            model_name='leadfeedback',
            constraint=models.UniqueConstraint(fields=('handoff', 'rater'), name='one_lead_feedback_per_handoff_rater'),
        ),
        migrations.AddConstraint(
            model_name='leadfeedback',
            constraint=models.CheckConstraint(condition=models.Q(('rating__gte', 1), ('rating__lte', 5)), name='lead_feedback_rating_1_to_5'),
        ),
        migrations.AddConstraint(
            model_name='leadfeedbackrevision',
            constraint=models.UniqueConstraint(fields=('feedback', 'revision'), name='one_feedback_revision_number'),
        ),
    ]
