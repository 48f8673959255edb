"""Calendars and policies are edited in the admin, with errors that name the field; clocked policies are frozen."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from handoff.models import BusinessCalendar, CalendarDay, SlaNotification, SlaPolicy
from handoff.models.sla import NotificationKind
from handoff.services.sla import sla_policy_save, sla_scan

from .conftest import NINE_TO_FIVE, utc


@pytest.fixture
def root(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def errors_of(instance) -> dict:
    with pytest.raises(ValidationError) as caught:
        instance.full_clean()
    return caught.value.message_dict


def test_an_unknown_holiday_country_is_a_clear_error(db):
    errors = errors_of(BusinessCalendar(name="X", time_zone="UTC", weekly_hours=NINE_TO_FIVE, holiday_country="XX"))
    assert "Unknown holiday country code 'XX'" in errors["holiday_country"][0]


def test_overlapping_weekly_intervals_are_a_clear_error(db):
    weekly = [[["09:00", "13:00"], ["12:00", "17:00"]]] + [[]] * 6
    errors = errors_of(BusinessCalendar(name="X", time_zone="UTC", weekly_hours=weekly))
    assert "Monday" in errors["weekly_hours"][0] and "overlaps" in errors["weekly_hours"][0]


def test_an_unknown_time_zone_is_a_clear_error(db):
    errors = errors_of(BusinessCalendar(name="X", time_zone="Mars/Olympus", weekly_hours=NINE_TO_FIVE))
    assert "time_zone" in errors


def test_an_extra_day_whose_hours_end_before_they_start_is_refused(utc_calendar):
    errors = errors_of(CalendarDay(calendar=utc_calendar, date=utc("2026-12-24 00:00").date(),
                                   hours=[["14:00", "10:00"]]))
    assert "ends at or before it starts" in errors["hours"][0]


def test_a_policy_segment_with_an_unknown_field_is_refused(db):
    policy = SlaPolicy(version=9, name="Bad", segments=[
        {"name": "vip", "when": [[{"field": "shoe_size", "op": "=", "value": "9"}]], "accept_minutes": 5,
         "first_touch_minutes": 5},
        {"name": "rest", "when": [], "accept_minutes": 60, "first_touch_minutes": 60},
    ])
    assert "shoe_size" in errors_of(policy)["segments"][0]


def test_a_policy_needs_a_last_segment_for_every_lead(db):
    policy = SlaPolicy(version=9, name="Bad", segments=[
        {"name": "vip", "when": [[{"field": "score", "op": ">=", "value": 90}]], "accept_minutes": 5,
         "first_touch_minutes": 5},
    ])
    assert "every lead" in errors_of(policy)["segments"][0]


def test_a_policy_that_timed_handoffs_cannot_change_its_terms(cast, qualified, policy):
    policy.segments = policy.segments[1:]
    with pytest.raises(ValidationError, match="create version N\\+1"):
        policy.save()


def test_sla_admin_pages_render(root, cast, qualified, policy, utc_calendar):
    sla_scan(kind=NotificationKind.BREACH, now=utc("2100-01-01 00:00"))
    for name in ("businesscalendar", "slapolicy", "milestone", "slanotification"):
        assert root.get(reverse(f"admin:handoff_{name}_changelist")).status_code == 200
    assert root.get(reverse("admin:handoff_businesscalendar_change", args=[utc_calendar.pk])).status_code == 200
    page = root.get(reverse("admin:handoff_slapolicy_change", args=[policy.pk]))
    assert page.status_code == 200 and b"Save as new" in page.content


def test_the_admin_can_retry_a_failed_notice(root, cast, qualified, policy, utc_calendar):
    sla_scan(kind=NotificationKind.BREACH, now=utc("2100-01-01 00:00"))
    SlaNotification.objects.update(status=SlaNotification.Status.FAILED, attempts=8)
    response = root.post(reverse("admin:handoff_slanotification_changelist"), {
        "action": "retry_now", "_selected_action": list(SlaNotification.objects.values_list("pk", flat=True)),
    })
    assert response.status_code == 302
    assert set(SlaNotification.objects.values_list("status", "attempts")) == {("pending", 0)}


def test_saving_a_new_active_policy_version_makes_it_the_only_one_in_force(policy):
    new = SlaPolicy(
        name="Faster", segments=policy.segments, follow_up_attempts=3, follow_up_minutes=600, is_active=True
    )
    saved = sla_policy_save(policy=new)
    assert saved.version == policy.version + 1
    assert list(SlaPolicy.objects.filter(is_active=True)) == [saved]
