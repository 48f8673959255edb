"""The signed-in reader is read once per request, with what every page asks of them (handoff.backends)."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from handoff.backends import ReaderBackend
from handoff.models import BusinessCalendar, RepProfile
from handoff.selectors.calendars import person_time_zone
from handoff.selectors.feedback import feedback_pending_count
from handoff.selectors.people import managed_teams, user_roles

pytestmark = pytest.mark.django_db


def _fresh(user):
    return get_user_model().objects.get(pk=user.pk)


@pytest.mark.parametrize("who", ["marketer", "rep", "other_rep", "manager", "other_manager", "outsider"])
def test_the_reader_comes_with_the_roles_teams_zone_and_leads_to_rate_the_selectors_would_read(cast, who):
    berlin = BusinessCalendar.objects.create(name="Berlin", time_zone="Europe/Berlin")
    cast.team.calendar = berlin
    cast.team.save()
    RepProfile.objects.filter(user=cast.other_rep).update(
        calendar=BusinessCalendar.objects.create(name="Tokyo", time_zone="Asia/Tokyo")
    )
    person = getattr(cast, who)

    reader = ReaderBackend().get_user(person.pk)
    fresh = _fresh(person)

    assert reader == person
    fields = [f.attname for f in get_user_model()._meta.concrete_fields]
    assert [getattr(reader, f) for f in fields] == [getattr(fresh, f) for f in fields]  # as the ORM reads them
    assert user_roles(reader) == user_roles(fresh)
    assert managed_teams(reader) == managed_teams(fresh)
    assert person_time_zone(reader) == person_time_zone(fresh)
    assert feedback_pending_count(reader) == feedback_pending_count(fresh) == 0
    assert str(person_time_zone(reader)) == {"rep": "Europe/Berlin", "manager": "Europe/Berlin",
                                             "other_rep": "Asia/Tokyo"}.get(who, "UTC")


def test_a_reader_deactivated_after_signing_in_is_signed_out(cast):
    client = Client()
    client.force_login(cast.rep)
    assert client.get(reverse("my_handoffs")).status_code == 200
    get_user_model().objects.filter(pk=cast.rep.pk).update(is_active=False)

    assert ReaderBackend().get_user(cast.rep.pk) is None
    assert client.get(reverse("my_handoffs")).status_code == 302


def test_a_move_to_another_team_shows_on_the_next_page(cast):
    client = Client()
    client.force_login(cast.manager)
    assert "rita.rep" in client.get(reverse("team_handoffs")).text
    RepProfile.objects.filter(user=cast.rep).update(team=cast.other_team)

    assert "rita.rep" not in client.get(reverse("team_handoffs")).text
