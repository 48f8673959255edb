"""The reference data of the pages (reason codes, SLA segments, business calendars), kept by each process while the
fingerprint read with the reader holds (handoff.selectors.reference): a change shows on the next page, whoever made it
and how."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from handoff.backends import ReaderBackend
from handoff.db import statement_text
from handoff.models import ReasonCode, SlaPolicy
from handoff.selectors import reference
from handoff.services.sla.policies import sla_policy_save

pytestmark = pytest.mark.django_db

SEGMENTS = [
    {"name": "Enterprise", "when": [[{"field": "score", "op": ">=", "value": 90}]], "accept_minutes": 120,
     "first_touch_minutes": 240},
    {"name": "Everyone else", "when": [], "accept_minutes": 480, "first_touch_minutes": 1440},
]


def _policy(name: str, segments: list[dict]) -> SlaPolicy:
    """A new version of the policy, in force from now."""
    return sla_policy_save(policy=SlaPolicy(name=name, segments=segments, is_active=True))


def _reject_options(page: str) -> str:
    """The reject dropdown's part of the page."""
    return page.split('name="reason"', 1)[1].split("</select>", 1)[0]


def test_a_reason_code_changed_after_a_page_was_shown_shows_on_the_next_page(cast, qualified, browser):
    rep = browser("rep")
    assert "Wrong department" not in _reject_options(rep.get(reverse("my_handoffs")).text)

    added = ReasonCode.objects.create(kind="reject", code="wrong_dept", label="Wrong department")
    assert "Wrong department" in _reject_options(rep.get(reverse("my_handoffs")).text)

    # Changes that send no signal (a queryset update, as a migration or a script would make) show as well.
    ReasonCode.objects.filter(pk=added.pk).update(label="Wrong team")
    page = _reject_options(rep.get(reverse("my_handoffs")).text)
    assert "Wrong team" in page and "Wrong department" not in page

    ReasonCode.objects.filter(pk=added.pk).update(is_active=False)
    assert "Wrong team" not in _reject_options(rep.get(reverse("my_handoffs")).text)
    assert "Wrong team" not in _reject_options(browser("manager").get(reverse("team_handoffs")).text)


def test_a_new_policy_version_s_segments_show_in_the_rep_s_filter_on_the_next_page(cast, browser):
    rep = browser("rep")
    _policy("Enterprise first", SEGMENTS)
    assert ">Enterprise</option>" in rep.get(reverse("my_handoffs")).text

    _policy("Strategic first", [{**SEGMENTS[0], "name": "Strategic"}, SEGMENTS[1]])
    page = rep.get(reverse("my_handoffs")).text
    assert ">Strategic</option>" in page and ">Enterprise</option>" not in page

    SlaPolicy.objects.update(is_active=False)
    assert ">Strategic</option>" not in rep.get(reverse("my_handoffs")).text


def test_the_fingerprint_follows_every_column_of_the_four_tables(cast):
    if connection.vendor != "postgresql":
        pytest.skip("kept on PostgreSQL only")
    from handoff.models import BusinessCalendar, CalendarDay

    def fingerprint():
        return getattr(ReaderBackend().get_user(cast.rep.pk), reference._FINGERPRINT)

    seen = [fingerprint()]
    assert seen[0] and fingerprint() == seen[0]
    reason = ReasonCode.objects.filter(kind="reject").first()
    ReasonCode.objects.filter(pk=reason.pk).update(requires_note=not reason.requires_note)
    seen.append(fingerprint())
    _policy("Enterprise first", SEGMENTS)
    seen.append(fingerprint())
    calendar = BusinessCalendar.objects.get(is_default=True)
    BusinessCalendar.objects.filter(pk=calendar.pk).update(holiday_country="DE")
    seen.append(fingerprint())
    day = CalendarDay.objects.create(calendar=calendar, date="2026-12-24", hours=[])
    seen.append(fingerprint())
    CalendarDay.objects.filter(pk=day.pk).update(hours=[["09:00", "12:00"]])
    seen.append(fingerprint())
    day.delete()
    seen.append(fingerprint())

    assert len(set(seen[:-1])) == len(seen) - 1  # every change gave a fingerprint not seen before
    assert seen[-1] == seen[-4]  # and the tables as they were before the day was added, the one they had then


@pytest.mark.parametrize(("name", "path"), [("rep", "my_handoffs"), ("manager", "team_handoffs")])
def test_a_page_with_nothing_changed_reads_no_reason_codes_and_no_policy(cast, qualified, browser, name, path):
    if connection.vendor != "postgresql":
        pytest.skip("kept on PostgreSQL only: elsewhere they are read with every page")
    _policy("Enterprise first", SEGMENTS)
    client = browser(name)
    client.get(reverse(path))  # the process reads them once

    with CaptureQueriesContext(connection) as log:
        page = client.get(reverse(path)).text

    tables = " ".join(statement_text(query["sql"]) for query in log.captured_queries)
    assert "handoff_handoff" in tables  # the log does read as the statements sent
    # No statement asks for the active ones (the reader's names both tables, for their fingerprint; the team's rows
    # join a handoff's reason).
    assert '"handoff_reasoncode"."is_active"' not in tables and '"handoff_slapolicy"."is_active"' not in tables
    active = ReasonCode.objects.filter(kind="reject", is_active=True).values_list("label", flat=True)
    assert all(label in _reject_options(page) for label in active)
    assert ">Enterprise</option>" in page or name == "manager"


def test_without_a_fingerprint_they_are_read_on_every_call(cast, django_assert_num_queries):
    reference.reasons_by_kind()
    with django_assert_num_queries(1):
        reasons = reference.reasons_by_kind()
    assert {r.kind for kinds in reasons.values() for r in kinds} <= set(ReasonCode.Kind.values)
    with django_assert_num_queries(1):
        assert reference.segment_names() == ["hot", "standard"]  # the policy the first migration wrote
    SlaPolicy.objects.update(is_active=False)
    with django_assert_num_queries(1):
        assert reference.segment_names() == []
