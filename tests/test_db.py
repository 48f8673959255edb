"""The database helpers behind the batch paths: `__any` membership and `bulk_set` updates, on both databases."""

import pytest
from django.utils import timezone

from handoff.db import bulk_set, insert_rows
from handoff.models import Handoff, Lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def leads():
    now = timezone.now()
    return Lead.objects.bulk_create(
        [Lead(crm_id=f"00Q{i:015d}", last_name=f"L{i}", company="Acme", crm_created_at=now) for i in range(5)]
    )


def test_any_selects_exactly_the_listed_values(leads):
    ids = [lead.pk for lead in leads]
    assert set(Lead.objects.filter(pk__any=ids[:3]).values_list("pk", flat=True)) == set(ids[:3])
    wanted = [leads[0].crm_id, leads[4].crm_id, "00Q-not-stored"]
    assert set(Lead.objects.filter(crm_id__any=wanted).values_list("pk", flat=True)) == {ids[0], ids[4]}


def test_any_of_nothing_selects_nothing_and_excludes_nothing(leads):
    assert not Lead.objects.filter(pk__any=[]).exists()
    assert Lead.objects.exclude(pk__any=[]).count() == len(leads)


def test_any_follows_relations(leads):
    assert not Handoff.objects.filter(lead_id__any=[lead.pk for lead in leads]).exists()
    assert Lead.objects.filter(pk__any={leads[1].pk, leads[1].pk}).count() == 1  # a set, duplicates once


def test_bulk_set_writes_each_rows_own_values_including_nulls(leads):
    now = timezone.now()
    for number, lead in enumerate(leads):
        lead.score = float(number)
        lead.title = f"Title {number}"
        lead.converted_at = now if number == 0 else None
    assert bulk_set(leads, ["score", "title", "converted_at"]) == len(leads)
    stored = {pk: (score, title, at) for pk, score, title, at in
              Lead.objects.values_list("pk", "score", "title", "converted_at")}
    assert stored == {
        lead.pk: (float(n), f"Title {n}", now if n == 0 else None) for n, lead in enumerate(leads)
    }


def test_bulk_set_of_no_rows_writes_nothing():
    assert bulk_set([], ["score"]) == 0


def test_insert_rows_fills_what_is_left_out_with_the_model_defaults():
    from handoff.models import HandoffEvent, LeadDefinition

    definition = LeadDefinition.objects.get(is_active=True).pk
    now = timezone.now()
    lead = Lead.objects.create(crm_id="00Q000000000000001", last_name="Lovelace", company="Engines",
                               crm_created_at=now)
    handoff = Handoff.objects.create(lead=lead, sequence=1, qualified_at=now, handed_at=now,
                                     qualified_by_kind="rule", definition_id=definition)
    assert insert_rows(HandoffEvent, [
        {"handoff_id": handoff.pk, "lead_id": lead.pk, "action": "qualify", "to_state": "qualified",
         "actor_kind": "rule", "at": now, "data": {"why": "rule"}, "definition_id": definition},
        {"handoff_id": handoff.pk, "lead_id": lead.pk, "action": "touch", "to_state": "qualified",
         "actor_kind": "rule", "at": now, "definition_id": definition},
    ]) == 2
    first, second = HandoffEvent.objects.order_by("pk")
    assert (first.data, first.note, first.from_state) == ({"why": "rule"}, "", "")
    assert second.data == {} and second.actor_id is None


def test_insert_rows_names_a_field_the_model_does_not_have():
    with pytest.raises(TypeError, match="no field colour"):
        insert_rows(Lead, [{"crm_id": "00Q000000000000002", "colour": "red"}])
    assert not Lead.objects.exists()


def test_a_row_condition_reads_the_row_of_its_own_query_even_nested_in_another(leads):
    from handoff.db import RowCondition

    scored = RowCondition("{row}.score IS NOT NULL")
    Lead.objects.filter(pk__in=[leads[1].pk, leads[3].pk]).update(score=5.0)
    assert set(Lead.objects.filter(scored).values_list("pk", flat=True)) == {leads[1].pk, leads[3].pk}
    assert set(Lead.objects.filter(~scored).values_list("pk", flat=True)) == {leads[0].pk, leads[2].pk, leads[4].pk}
    assert set(Lead.objects.exclude(scored).values_list("pk", flat=True)) == {leads[0].pk, leads[2].pk, leads[4].pk}
    # Nested, its table is aliased (U0): the condition follows the alias, not the outer query's row.
    nested = Lead.objects.filter(scored, pk__gt=leads[1].pk).values("pk")
    assert set(Lead.objects.filter(pk__in=nested).values_list("pk", flat=True)) == {leads[3].pk}
    assert set(Lead.objects.exclude(pk__in=nested).filter(~scored).values_list("pk", flat=True)) == {
        leads[0].pk, leads[2].pk, leads[4].pk}
