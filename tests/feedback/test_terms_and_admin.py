"""Feedback points are terms of the SLA policy version (frozen once it timed a handoff); the admin shows the feedback
record read-only; business days count working dates of a calendar."""
from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from handoff import businesstime
from handoff.models import (
    FeedbackDigest,
    FeedbackPointReached,
    FeedbackRequest,
    FeedbackScan,
    LeadFeedback,
    LeadFeedbackRevision,
    SlaPolicy,
)
from handoff.services.feedback import feedback_digests_create, lead_feedback_give

from .conftest import accepted, converted, handed, local, person, rejected, request_of

pytestmark = pytest.mark.django_db


def test_a_policy_that_timed_a_handoff_keeps_its_feedback_points(cast, clock):
    handed(cast)
    policy = SlaPolicy.objects.get(version=1)
    for field, value in [("feedback_on_reject", False), ("feedback_after_accept_days", 3),
                         ("feedback_on_convert", False), ("feedback_on_recycle", False)]:
        changed = SlaPolicy.objects.get(pk=policy.pk)
        setattr(changed, field, value)
        with pytest.raises(ValidationError, match="create version N\\+1"):
            changed.save()


def test_the_default_points_ask_at_every_point_and_after_five_business_days(db):
    policy = SlaPolicy.objects.get(version=1)
    assert (policy.feedback_on_reject, policy.feedback_after_accept_days, policy.feedback_on_convert,
            policy.feedback_on_recycle) == (True, 5, True, True)


@pytest.mark.parametrize("days", [0, 61])
def test_the_business_days_after_accepting_are_one_to_sixty(db, days):
    policy = SlaPolicy(version=9, name="Odd", segments=SlaPolicy.objects.get(version=1).segments,
                       feedback_after_accept_days=days)
    with pytest.raises(ValidationError) as refused:
        policy.full_clean()
    assert "feedback_after_accept_days" in refused.value.message_dict


@pytest.fixture
def superuser_client(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def test_the_admin_shows_the_feedback_record_and_changes_none_of_it(cast, clock, ask, superuser_client):
    answered = converted(cast)
    rejected(cast)
    accepted(cast)
    ask()
    lead_feedback_give(request=request_of(answered), actor=person(cast.rep), rating=3, reasons=["bad_timing"])
    rejected(cast)  # a reached point the job has not read yet
    clock(local("2026-03-10 09:00", "UTC"))
    feedback_digests_create()
    for model in (FeedbackRequest, LeadFeedback, LeadFeedbackRevision, FeedbackDigest, FeedbackPointReached,
                  FeedbackScan):
        info = f"admin:handoff_{model._meta.model_name}"
        assert superuser_client.get(reverse(f"{info}_changelist")).status_code == 200, model
        first = model.objects.first()
        assert first is not None, model
        assert superuser_client.get(reverse(f"{info}_change", args=[first.pk])).status_code == 200, model
        assert superuser_client.get(reverse(f"{info}_add")).status_code == 403, model
    reasons = superuser_client.get(reverse("admin:handoff_reasoncode_changelist"), {"is_market_signal__exact": "1"})
    assert "Pricing objection" in reasons.text and "Great fit" not in reasons.text


def test_an_applied_policys_feedback_points_are_read_only_in_the_admin(cast, clock, superuser_client):
    handed(cast)
    page = superuser_client.get(reverse("admin:handoff_slapolicy_change", args=[SlaPolicy.objects.get().pk]))
    assert page.status_code == 200
    assert 'name="feedback_on_reject"' not in page.text and "Feedback on reject" in page.text


def test_working_days_count_in_the_calendars_own_dates(db):
    cal = businesstime.calendar_from_values(
        time_zone="America/New_York",
        weekly_hours=[[["09:00", "17:00"]]] * 5 + [[], []],
        holiday_country="US",
    )
    assert businesstime.is_working_day(date(2026, 5, 22), cal)  # Friday
    assert not businesstime.is_working_day(date(2026, 5, 23), cal)  # Saturday
    assert not businesstime.is_working_day(date(2026, 5, 25), cal)  # Memorial Day
    assert businesstime.working_day_after(date(2026, 5, 21), 5, cal) == date(2026, 5, 29)
    assert businesstime.working_day_after(date(2026, 5, 23), 1, cal) == date(2026, 5, 26)
    assert businesstime.working_day_back(date(2026, 5, 29), 5, cal) == date(2026, 5, 22)
    assert businesstime.working_day_back(date(2026, 5, 25), 1, cal) == date(2026, 5, 22)
    assert businesstime.day_start(date(2026, 5, 29), cal) == local("2026-05-29 00:00", "America/New_York")
    with pytest.raises(ValueError):
        businesstime.working_day_back(date(2026, 5, 29), 0, cal)
