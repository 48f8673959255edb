"""The admin: every model has a changelist; the record is read-only; lead definitions are versioned, not edited."""
from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from handoff.models import Handoff, HandoffEvent, LeadDefinition, Touch
from handoff.services.handoffs import handoff_accept, handoff_touch

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


@pytest.fixture
def record(cast, qualified):
    """A handoff with events and a touch, so every changelist has rows to render."""
    handoff_accept(handoff=qualified, actor=cast.actor("rep"))
    handoff_touch(handoff=qualified, actor=cast.actor("rep"), kind="call", outcome="attempt")
    return qualified


def url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_every_handoff_model_is_in_the_admin():
    missing = [m.__name__ for m in apps.get_app_config("handoff").get_models() if m not in admin.site._registry]
    assert missing == []


@pytest.mark.parametrize("model", list(apps.get_app_config("handoff").get_models()) + [User], ids=lambda m: m.__name__)
def test_every_changelist_and_change_page_loads(superuser_client, record, model):
    assert superuser_client.get(url(model, "changelist")).status_code == 200
    first = model._default_manager.first()
    if first is not None:
        assert superuser_client.get(url(model, "change", first.pk)).status_code == 200


def test_search_and_filters_work_on_leads_and_handoffs(superuser_client, record):
    leads = superuser_client.get(url(record.lead, "changelist"), {"q": record.lead.last_name})
    handoffs = superuser_client.get(url(Handoff, "changelist"), {"state__exact": "accepted"})
    assert str(record.lead) in leads.text
    assert str(record.lead) in handoffs.text


@pytest.mark.parametrize("model", [Handoff, HandoffEvent, Touch], ids=lambda m: m.__name__)
def test_the_record_cannot_be_added_changed_or_deleted(superuser_client, record, model):
    first = model._default_manager.first()
    assert superuser_client.get(url(model, "add")).status_code == 403
    assert superuser_client.get(url(model, "delete", first.pk)).status_code == 403
    before = Handoff.objects.get(pk=record.pk).state
    superuser_client.post(url(Handoff, "change", record.pk), {"state": "converted"})
    assert Handoff.objects.get(pk=record.pk).state == before


def test_a_new_definition_gets_the_next_version_and_invalid_conditions_are_refused(superuser_client, cast):
    bad = superuser_client.post(
        url(LeadDefinition, "add"), {"name": "Broken", "description": "", "conditions": '[{"field": "shoe_size"}]'}
    )
    assert bad.status_code == 200
    assert "shoe_size" in bad.text
    assert LeadDefinition.objects.count() == 1

    superuser_client.post(
        url(LeadDefinition, "add"),
        {"name": "Hotter", "description": "", "conditions": '[{"field": "score", "op": ">=", "value": 80}]'},
    )
    created = LeadDefinition.objects.get(name="Hotter")
    assert (created.version, created.is_active, created.created_by.username) == (2, False, "root")


def test_a_definition_that_judged_leads_cannot_be_edited(superuser_client, record):
    used = record.definition
    page = superuser_client.get(url(LeadDefinition, "change", used.pk))
    assert 'name="conditions"' not in page.text
    assert "Revise as new version" in page.text or "cannot change" in page.text

    superuser_client.post(url(LeadDefinition, "change", used.pk), {"conditions": "[]", "name": "Anything"})

    used.refresh_from_db()
    assert used.conditions != [] and used.name != "Anything"
    assert LeadDefinition.objects.count() == 1


def test_revise_as_new_version_then_activate(superuser_client, record):
    used = record.definition
    superuser_client.post(
        url(LeadDefinition, "changelist"), {"action": "revise_as_new_version", "_selected_action": [used.pk]}
    )
    copy = LeadDefinition.objects.get(version=used.version + 1)
    assert copy.conditions == used.conditions and not copy.is_active

    superuser_client.post(url(LeadDefinition, "changelist"), {"action": "activate", "_selected_action": [copy.pk]})

    assert list(LeadDefinition.objects.filter(is_active=True)) == [copy]
