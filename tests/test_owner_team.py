"""Each handoff's owner's team is kept on it by the database (migration 0022), on PostgreSQL and SQLite alike, whoever
writes the handoff or moves a rep; a manager's list reads it one team at a time, merged with the queue's, and shows
the same rows in the same order as the whole list."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from rest_framework.test import APIClient

from handoff.db import MergedQuerySet
from handoff.models import Handoff, Milestone, RepProfile, Role, Team
from handoff.selectors.handoffs import handoffs_visible_in_parts, handoffs_visible_to
from handoff.services import handoffs as machine
from handoff.services.handoffs import handoffs_reassign

from .factories import make_lead, make_user

pytestmark = pytest.mark.django_db


def kept_and_computed() -> dict[int, tuple]:
    """Per handoff: (the kept team, its owner's profile's team now)."""
    profile_team = RepProfile.objects.filter(user=OuterRef("owner_id")).values("team_id")[:1]
    rows = Handoff.objects.annotate(computed=Subquery(profile_team)).values_list("pk", "owner_team_id", "computed")
    return {pk: (kept, computed) for pk, kept, computed in rows}


def assert_kept() -> None:
    found = kept_and_computed()
    assert found and all(kept == computed for kept, computed in found.values()), found


def handed(cast, owner, at=None) -> Handoff:
    handoff = machine.handoff_qualify(lead=make_lead(owner=owner), actor=cast.actor("marketer"))
    if at is not None:
        Handoff.objects.filter(pk=handoff.pk).update(handed_at=at)
    return handoff


def team_of(handoff: Handoff) -> int | None:
    return Handoff.objects.values_list("owner_team_id", flat=True).get(pk=handoff.pk)


def test_a_handoff_carries_its_owners_team_through_reassignment_and_the_queue(cast):
    handoff = handed(cast, cast.rep)
    queued = handed(cast, None)
    assert team_of(handoff) == cast.team.pk
    assert team_of(queued) is None, "the queue has no team"

    handoffs_reassign(handoffs=[handoff], actor=cast.actor("manager"), owner=cast.other_rep)
    assert team_of(handoff) == cast.other_team.pk
    handoffs_reassign(handoffs=[handoff], actor=cast.actor("other_manager"), owner=None)
    assert team_of(handoff) is None
    Handoff.objects.filter(pk=queued.pk).update(owner=cast.rep)
    assert team_of(queued) == cast.team.pk, "a plain UPDATE of the owner moves it too"
    assert_kept()


def test_a_rep_who_moves_team_takes_their_handoffs_along(cast):
    mine, theirs = handed(cast, cast.rep), handed(cast, cast.other_rep)
    profile = cast.rep.profile
    profile.team = cast.other_team
    profile.save()
    assert team_of(mine) == cast.other_team.pk
    assert team_of(theirs) == cast.other_team.pk

    RepProfile.objects.filter(user=cast.rep).update(team=None)
    assert team_of(mine) is None, "a rep in no team"
    RepProfile.objects.filter(user=cast.rep).update(team=cast.team)
    assert team_of(mine) == cast.team.pk
    assert_kept()


def test_a_deleted_team_or_profile_leaves_no_team_behind(cast):
    mine, theirs = handed(cast, cast.rep), handed(cast, cast.other_rep)
    cast.other_team.delete()
    assert team_of(theirs) is None, "Django sets the reps' team to none, and their handoffs follow"
    RepProfile.objects.filter(user=cast.rep).delete()
    assert team_of(mine) is None
    RepProfile.objects.create(user=cast.rep, team=cast.team, crm_user_id="005000000000NEW")
    assert team_of(mine) == cast.team.pk, "a profile made again gives the rep's handoffs its team"
    assert_kept()


def test_the_column_is_the_databases_not_the_applications(cast):
    handoff = handed(cast, cast.rep)
    stale = Handoff.objects.get(pk=handoff.pk)
    RepProfile.objects.filter(user=cast.rep).update(team=cast.other_team)
    stale.note = "Saved from an instance read before the rep moved"
    stale.save()
    assert team_of(handoff) == cast.other_team.pk, "a stale instance saved writes the right team"

    Handoff.objects.filter(pk=handoff.pk).update(owner_team=cast.team)
    assert team_of(handoff) == cast.other_team.pk, "a team written by hand is put right"
    assert_kept()


def test_handoffs_inserted_in_bulk_get_their_owners_team(cast):
    handed(cast, cast.rep)
    template = Handoff.objects.values().get()
    rows = [
        Handoff(**{**template, "id": None, "lead_id": make_lead(owner=owner).pk, "owner_id": owner and owner.pk,
                   "owner_team_id": cast.other_team.pk})
        for owner in (cast.rep, cast.other_rep, None)
    ]
    Handoff.objects.bulk_create(rows)
    assert_kept()


@pytest.fixture
def two_teams_and_the_queue(cast):
    """A manager of two teams (EMEA and a second one), handoffs of both, another team's and the queue's, their
    hand-over times interleaved; a third of them with a breached clock."""
    second = Team.objects.create(name="Nordics", manager=cast.manager)
    nordic = make_user("nils.rep", Role.SALES_REP, team=second)
    start = timezone.now() - timedelta(days=3)
    owners = [cast.rep, nordic, None, cast.other_rep, cast.rep, nordic, None, cast.rep]
    handoffs = []
    for i in range(24):
        handoffs.append(handed(cast, owners[i % len(owners)], at=start + timedelta(minutes=10 * i)))
    breached = [h.pk for h in handoffs[::3]]
    Milestone.objects.filter(handoff_id__in=breached, kind="accept").update(breached_at=timezone.now())
    return handoffs


def test_a_manager_of_two_teams_reads_one_part_per_team_and_the_queues(cast, two_teams_and_the_queue):
    parts = handoffs_visible_in_parts(cast.manager)
    assert len(parts) == 3
    ids = [list(part.values_list("pk", flat=True)) for part in parts]
    assert all(ids), "each team and the queue hold rows here"
    every = [pk for part in ids for pk in part]
    assert len(every) == len(set(every)), "the parts are disjoint"
    assert set(every) == set(handoffs_visible_to(cast.manager).values_list("pk", flat=True))
    assert set(every) != set(Handoff.objects.values_list("pk", flat=True)), "another team's rows stay out"
    for who in ("rep", "marketer"):
        user = getattr(cast, who)
        assert len(handoffs_visible_in_parts(user)) == 1, who
    # A manager who is also a rep, in a team they do not manage, reads the list whole.
    cast.manager.groups.add(*cast.rep.groups.all())
    RepProfile.objects.filter(user=cast.manager).update(team=cast.other_team)
    manager = type(cast.manager).objects.get(pk=cast.manager.pk)
    assert len(handoffs_visible_in_parts(manager)) == 1


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="a sliced part in a UNION: PostgreSQL only (SQLite reads it whole)"
)
@pytest.mark.parametrize("filters", [{}, {"state": "qualified"}, {"milestones__breached_at__isnull": False}])
def test_the_merged_parts_slice_as_the_whole_list(cast, two_teams_and_the_queue, filters):
    # Equal hand-over times across the parts: the id orders them.
    ties = [h.pk for h in two_teams_and_the_queue[6:12]]
    Handoff.objects.filter(pk__in=ties).update(handed_at=two_teams_and_the_queue[6].handed_at)
    whole = handoffs_visible_to(cast.manager).filter(**filters).distinct()
    parts = [part.filter(**filters).distinct() for part in handoffs_visible_in_parts(cast.manager)]
    merged = MergedQuerySet([part.values("id", "handed_at") for part in parts])
    order = ("-handed_at", "-id")
    expected = list(whole.order_by(*order).values("id", "handed_at"))
    assert expected, "the fixture gives rows to compare"
    for cut in (slice(0, 3), slice(2, 7), slice(0, 100), slice(5, 6)):
        assert merged.order_by(*order)[cut] == expected[cut], cut
    later = expected[4]["handed_at"]
    assert merged.order_by(*order).filter(handed_at__lt=later)[0:5] == [
        row for row in expected if row["handed_at"] < later
    ][:5]
    assert merged.order_by("handed_at", "id")[0:4] == expected[::-1][:4]


def test_a_merged_list_needs_an_order_and_an_end(cast, two_teams_and_the_queue):
    merged = MergedQuerySet(handoffs_visible_in_parts(cast.manager))
    with pytest.raises(TypeError, match="order it"):
        merged[0:3]
    with pytest.raises(TypeError, match="slice"):
        merged.order_by("-handed_at")[2]
    with pytest.raises(ValueError):
        MergedQuerySet([])


@pytest.mark.parametrize("query", ["", "&state=qualified", "&breached=true", "&breached=false"])
def test_a_managers_api_list_walks_the_same_rows_forward_and_back(cast, two_teams_and_the_queue, query):
    visible = handoffs_visible_to(cast.manager)
    if "state" in query:
        visible = visible.filter(state="qualified")
    breached = Milestone.objects.filter(breached_at__isnull=False).values("handoff_id")
    if "breached=true" in query:
        visible = visible.filter(pk__in=breached)
    elif "breached=false" in query:
        visible = visible.exclude(pk__in=breached)
    expected = list(visible.order_by("-handed_at", "-id").values_list("pk", flat=True))
    assert expected

    client, seen, url, pages = APIClient(), [], f"/api/handoffs/?page_size=2{query}", []
    client.force_authenticate(cast.manager)
    while url:
        body = client.get(url).json()
        pages.append([row["id"] for row in body["results"]])
        seen += pages[-1]
        url = body["next"]
    assert seen == expected
    back, url = [], body["previous"]
    while url:
        body = client.get(url).json()
        back = [row["id"] for row in body["results"]] + back
        url = body["previous"]
    assert back == seen[: len(seen) - len(pages[-1])], "the way back gives the same rows"
