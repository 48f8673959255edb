"""Leads can be written from whole CRM records, mapped as the sync maps them, with none of a sync's consequences."""
from __future__ import annotations

from datetime import timedelta

import pytest

from handoff.exceptions import InvalidInput
from handoff.models import Handoff, Lead, Role
from handoff.services.leads import leads_upsert_from_crm

from ..factories import make_user
from ..sync.memory_crm import QUEUE, T0, lead

pytestmark = pytest.mark.django_db


def test_records_become_leads_owned_by_the_rep_with_that_crm_user_id_and_nothing_is_qualified():
    rep = make_user("rep", Role.SALES_REP)
    records = [lead(1, OwnerId=rep.profile.crm_user_id), lead(2, OwnerId=QUEUE)]

    ids = leads_upsert_from_crm(records=records)

    first, second = Lead.objects.get(pk=ids[records[0]["Id"]]), Lead.objects.get(pk=ids[records[1]["Id"]])
    assert (first.owner, first.crm_owner_id, first.first_name, first.score) == (
        rep, rep.profile.crm_user_id, "Grace", 80.0
    )
    assert (first.crm_modified_at, first.raw["Id"], first.is_deleted) == (T0, records[0]["Id"], False)
    assert (second.owner, second.crm_owner_id) == (None, QUEUE)
    # Both meet the active definition, yet only a sync (or a caller) draws consequences.
    assert not Handoff.objects.exists()


def test_a_later_record_updates_its_lead_in_place_and_isdeleted_marks_it_deleted():
    later = T0 + timedelta(days=2)
    [lead_id] = leads_upsert_from_crm(records=[lead(1)]).values()

    again = leads_upsert_from_crm(
        records=[lead(1, Status="Closed - Converted", IsConverted=True, ConvertedDate=later.date(),
                      SystemModstamp=later, IsDeleted=True)]
    )

    updated = Lead.objects.get()
    assert again == {updated.crm_id: lead_id}
    assert (updated.status, updated.is_converted, updated.crm_modified_at, updated.is_deleted) == (
        "Closed - Converted", True, later, True
    )


def test_a_record_without_id_or_stamp_is_refused():
    with pytest.raises(InvalidInput):
        leads_upsert_from_crm(records=[{"Id": "00Q000000000001AAA"}])
    assert not Lead.objects.exists()
