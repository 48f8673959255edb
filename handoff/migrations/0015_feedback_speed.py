"""Issue 11: what the feedback speed-ups need in the schema.

The request job inserts up to 100,000 requests in one statement, and each index of the table is written for every
one of them: the partial index of a rep's pending requests and the (rater, outcome) index become one
(rater, outcome, asked_at) index, which serves both the pending lists (the digest, the count in the navigation,
"Feedback to give") and the answered ones (the change window, the API). The queries that find handoffs at a
feedback point are served already: the queue by its primary key, acceptances by `handoff_accepted_idx`, their
accept clocks by the unique (handoff, kind, round), their leads by primary key.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("handoff", "0014_routing")]

    operations = [
        migrations.RemoveIndex(model_name="feedbackrequest", name="feedback_request_pending_idx"),
        migrations.RemoveIndex(model_name="feedbackrequest", name="feedback_request_rater_idx"),
        # A rep's requests by outcome, oldest first: the digest, the navigation's count, "Feedback to give" (pending),
        # the change window and the API's lists (answered, any).
        migrations.AddIndex(
            model_name="feedbackrequest",
            index=models.Index(fields=["rater", "outcome", "asked_at"], name="feedback_request_by_rater_idx"),
        ),
    ]
