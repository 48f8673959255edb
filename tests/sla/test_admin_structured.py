"""The admin edits weekly hours, calendar closures and SLA segments as structured rows, not raw JSON; an error names
the row and the field, and nothing is saved."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from handoff.models import BusinessCalendar, CalendarDay, SlaPolicy

pytestmark = pytest.mark.django_db
WEEK = ["09:00–17:00"] * 5 + ["", ""]


@pytest.fixture
def root(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def calendar_form(week=WEEK, days=(), **fields) -> dict:
    data = {"name": "Berlin office", "time_zone": "Europe/Berlin", "holiday_country": "DE", "holiday_subdivision": "",
            "days-TOTAL_FORMS": str(len(days)), "days-INITIAL_FORMS": "0", "days-MIN_NUM_FORMS": "0",
            "days-MAX_NUM_FORMS": "1000", **fields}
    data.update({f"weekly_hours_{i}": text for i, text in enumerate(week)})
    for i, (day, hours, note) in enumerate(days):
        data.update({f"days-{i}-date": day, f"days-{i}-hours": hours, f"days-{i}-note": note})
    return data


def test_a_calendars_week_is_a_line_per_weekday_with_its_opening_hours(root):
    default = BusinessCalendar.objects.get(is_default=True)

    text = root.get(reverse("admin:handoff_businesscalendar_change", args=[default.pk])).text

    assert '<label for="id_weekly_hours_0">Monday</label>' in text
    assert 'name="weekly_hours_0" value="09:00–17:00"' in text
    assert 'name="weekly_hours_6" size="32" placeholder="closed"' in text  # Sunday: closed, no hours


def test_a_calendar_is_saved_from_its_rows_with_a_split_day_and_a_closure(root):
    week = ["08:30–12:00, 13:00–17:30", *WEEK[1:]]
    data = calendar_form(week, days=[("2026-12-24", "", "Christmas Eve"), ("2026-12-19", "10:00-14:00", "Fair")])

    response = root.post(reverse("admin:handoff_businesscalendar_add"), data)

    assert response.status_code == 302
    saved = BusinessCalendar.objects.get(name="Berlin office")
    assert saved.weekly_hours[0] == [["08:30", "12:00"], ["13:00", "17:30"]]
    assert saved.weekly_hours[5] == [] and saved.weekly_hours[1] == [["09:00", "17:00"]]
    assert dict(saved.days.values_list("note", "hours")) == {"Christmas Eve": [], "Fair": [["10:00", "14:00"]]}


@pytest.mark.parametrize(("week", "said"), [
    (["09:00–17:00", "9am-5pm", *WEEK[2:]], "Tuesday: &#x27;9am-5pm&#x27; is not a stretch of time"),
    (["09:00–13:00, 12:00–17:00", *WEEK[1:]], "Monday"),
    ([*WEEK[:4], "09:00–25:00", "", ""], "Friday: 25:00 is not a time of day"),
])
def test_a_bad_weekday_is_refused_naming_the_day(root, week, said):
    response = root.post(reverse("admin:handoff_businesscalendar_add"), calendar_form(week))

    assert response.status_code == 200 and said in response.text
    assert not BusinessCalendar.objects.filter(name="Berlin office").exists()


def test_a_bad_closure_row_is_refused_at_its_row(root):
    data = calendar_form(days=[("2026-12-24", "", "Christmas Eve"), ("2026-12-19", "14:00-10:00", "Fair")])

    response = root.post(reverse("admin:handoff_businesscalendar_add"), data)

    assert response.status_code == 200 and "ends at or before it starts" in response.text
    assert not CalendarDay.objects.exists()


def policy_form(rows, version=2) -> dict:
    data = {"version": str(version), "name": "Faster", "description": "", "follow_up_attempts": "5",
            "follow_up_minutes": "3360", "reminder_share": "0.75", "escalation": "notify", "pause_statuses": "[]",
            "touch_statuses": "[]", "mql_targets": "[]", "min_acceptance_rate": "", "feedback_on_reject": "on",
            "feedback_after_accept_days": "5", "feedback_on_convert": "on", "feedback_on_recycle": "on",
            "segments-rows": str(len(rows))}
    for i, row in enumerate(rows):
        data.update({f"segments-{i}-{key}": value for key, value in row.items()})
    return data


HOT = {"name": "hot", "accept_minutes": "10", "first_touch_minutes": "60",
       "when": '[[{"field": "lead_source", "op": "=", "value": "Demo Request"}]]'}
REST = {"name": "standard", "accept_minutes": "480", "first_touch_minutes": "120", "when": ""}
EMPTY = dict.fromkeys(HOT, "")


def test_an_sla_policys_segments_are_rows(root):
    policy = SlaPolicy.objects.get(is_active=True)
    text = root.get(reverse("admin:handoff_slapolicy_change", args=[policy.pk])).text
    assert 'name="segments-0-name" value="hot"' in text and 'name="segments-1-accept_minutes" value="1440"' in text

    response = root.post(reverse("admin:handoff_slapolicy_add"), policy_form([HOT, REST, EMPTY]))

    assert response.status_code == 302
    assert SlaPolicy.objects.get(version=2).segments == [
        {"name": "hot", "when": [[{"field": "lead_source", "op": "=", "value": "Demo Request"}]],
         "accept_minutes": 10, "first_touch_minutes": 60},
        {"name": "standard", "when": [], "accept_minutes": 480, "first_touch_minutes": 120},
    ]


@pytest.mark.parametrize(("rows", "said"), [
    ([HOT, {**REST, "accept_minutes": "soon"}], "Segment 2 (standard), minutes to accept"),
    ([{**HOT, "when": "[[{"}, REST], "Segment 1 (hot), conditions: not valid JSON"),
    ([{**HOT, "name": ""}, REST], "Segment 1, name"),
    ([HOT], "every lead"),
])
def test_a_bad_segment_is_refused_naming_its_row_and_field(root, rows, said):
    response = root.post(reverse("admin:handoff_slapolicy_add"), policy_form(rows))

    assert response.status_code == 200 and said in response.text
    assert not SlaPolicy.objects.filter(version=2).exists()


def test_touches_are_touches_in_the_admin(root):
    assert "Touches" in root.get(reverse("admin:index")).text
    assert "Touchs" not in root.get(reverse("admin:index")).text
