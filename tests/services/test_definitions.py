"""Lead definitions are versioned: a version that judged a lead never changes; revising creates N+1."""
import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from handoff.exceptions import InvalidInput
from handoff.models import LeadDefinition
from handoff.services.definitions import definition_activate, definition_create, definition_revise
from handoff.services.handoffs import handoff_qualify, leads_qualify_by_rule
from tests.factories import make_lead

HOT = [{"field": "score", "op": ">=", "value": 80}]


def test_a_version_that_judged_a_lead_cannot_change(cast, qualified):
    v1 = qualified.definition
    v1.conditions = HOT
    with pytest.raises(ValidationError, match="cannot change"):
        v1.save()
    v1.refresh_from_db()
    assert v1.conditions != HOT


def test_revising_a_used_version_creates_the_next_one_and_handoffs_keep_theirs(cast, qualified):
    v1 = qualified.definition
    v2 = definition_revise(definition=v1, conditions=HOT, revised_by=cast.marketer)
    assert v2.pk != v1.pk
    assert v2.version == v1.version + 1
    assert v2.is_active
    v1.refresh_from_db()
    assert not v1.is_active
    qualified.refresh_from_db()
    assert qualified.definition == v1
    later = handoff_qualify(lead=make_lead(owner=cast.rep), actor=cast.actor("marketer"))
    assert later.definition == v2


def test_an_unused_version_is_edited_in_place(db):
    draft = definition_create(name="Draft", conditions=HOT)
    revised = definition_revise(definition=draft, conditions=[{"field": "country", "op": "in", "value": ["DE"]}])
    assert revised.pk == draft.pk
    assert revised.version == draft.version


def test_exactly_one_definition_is_active(db):
    first = LeadDefinition.objects.get(is_active=True)
    second = definition_create(name="Stricter", conditions=HOT, activate=True)
    assert list(LeadDefinition.objects.filter(is_active=True)) == [second]
    definition_activate(definition=first)
    assert list(LeadDefinition.objects.filter(is_active=True)) == [first]
    with pytest.raises(IntegrityError):
        LeadDefinition.objects.filter(pk=second.pk).update(is_active=True)


def test_bad_conditions_are_refused_naming_the_field(db):
    with pytest.raises(InvalidInput) as raised:
        definition_create(name="Bad", conditions=[{"field": "shoe_size", "op": ">=", "value": 9}])
    assert raised.value.field == "conditions"
    assert "shoe_size" in raised.value.message


def test_the_rule_qualifies_matching_leads_once(cast):
    hot = make_lead(owner=cast.rep, score=90)
    cold = make_lead(owner=cast.rep, score=10)
    no_email = make_lead(owner=cast.rep, score=90, email="")
    created = leads_qualify_by_rule()
    assert [h.lead for h in created] == [hot]
    assert created[0].qualified_by_kind == "rule" and created[0].qualified_by is None
    assert leads_qualify_by_rule() == []
    assert not cold.handoffs.exists() and not no_email.handoffs.exists()


def test_the_rule_requalifies_a_recycled_lead_only_after_it_changed(cast):
    from datetime import timedelta

    from django.utils import timezone

    from handoff.services.handoffs import handoff_recycle, handoff_reject

    lead = make_lead(owner=cast.rep, score=90)
    (first,) = leads_qualify_by_rule()
    handoff_reject(handoff=first, actor=cast.actor("rep"), reason="no_budget")
    handoff_recycle(handoff=first, actor=cast.actor("marketer"), reason="timing")
    assert leads_qualify_by_rule() == []
    lead.crm_modified_at = timezone.now() + timedelta(seconds=1)
    lead.save()
    (second,) = leads_qualify_by_rule()
    assert (second.lead, second.sequence) == (lead, 2)
