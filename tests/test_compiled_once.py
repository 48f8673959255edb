"""A read done on every page is built and compiled once per process (`handoff.db.compiled_once`): each call gives
the rows the queryset would give for its ids, and a query whose form follows its ids is built on every call."""
from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Prefetch
from django.test.utils import CaptureQueriesContext

from handoff import db
from handoff.models import Handoff, Lead, Touch
from handoff.selectors.handoffs import lead_to_show
from handoff.services.handoffs import handoff_accept, handoff_qualify, handoff_touch

from .factories import make_lead

pytestmark = pytest.mark.django_db


class Counted:
    """A build function that counts how often it is called."""

    def __init__(self, build):
        self.build, self.calls = build, 0

    def __call__(self, *args):
        self.calls += 1
        return self.build(*args)


def _leads_of(owner_id: int):
    return Lead.objects.filter(owner_id=owner_id, score__gte=10).select_related("owner").order_by("last_name")


def _names(leads) -> list[tuple]:
    return [(lead.last_name, lead.owner.username) for lead in leads]


@pytest.fixture
def leads(cast):
    for owner, name, score in ((cast.rep, "Ada", 90), (cast.rep, "Bo", 40), (cast.rep, "Cy", 5),
                               (cast.other_rep, "Di", 70)):
        make_lead(owner=owner, last_name=name, score=score)
    return cast


def test_each_call_gives_the_querysets_rows_for_its_ids_and_builds_it_only_twice(leads, settings):
    settings.HANDOFF_CHECK_COMPILED = False  # the tests' check builds it again on every call
    build = Counted(_leads_of)

    for _ in range(3):
        assert _names(db.compiled_once(build, leads.rep.pk)) == [("Ada", "rita.rep"), ("Bo", "rita.rep")]
        assert _names(db.compiled_once(build, leads.other_rep.pk)) == [("Di", "rob.rep")]
        assert db.compiled_once(build, 987_654) == []

    assert build.calls == 2, "built with two sets of stand-ins, then never again"


def test_the_related_rows_it_reads_with_them_cost_no_query_and_prefetches_still_run(cast, lead):
    handoff = handoff_qualify(lead=lead, actor=cast.actor("marketer"))
    handoff_accept(handoff=handoff, actor=cast.actor("rep"))
    handoff_touch(handoff=handoff, actor=cast.actor("rep"), kind="call", outcome="connected", note="Hello")

    def with_touches(lead_id: int):
        touches = Prefetch("touches", queryset=Touch.objects.select_related("by"))
        return Handoff.objects.filter(lead_id=lead_id).select_related("owner").prefetch_related(touches)

    db.compiled_once(with_touches, lead.pk)  # the first call compiles
    with CaptureQueriesContext(connection) as log:
        (found,) = db.compiled_once(with_touches, lead.pk)
        assert found.owner.username == "rita.rep"
        assert [(touch.note, touch.by.username) for touch in found.touches.all()] == [("Hello", "rita.rep")]
    assert len(log.captured_queries) == 2, "the handoffs with their owners, then the touches with who logged them"


def test_values_rows_come_through_the_querysets_own_converters(leads):
    def scores(owner_id: int):
        return Lead.objects.filter(owner_id=owner_id).order_by("-score").values_list("last_name", "score", "updated_at")

    for _ in range(2):
        rows = db.compiled_once(scores, leads.rep.pk)
        assert rows == list(scores(leads.rep.pk))
        assert all(row[2].tzinfo is not None for row in rows)


def test_a_query_with_a_value_computed_from_an_id_is_built_on_every_call_and_still_right(leads, settings):
    settings.HANDOFF_CHECK_COMPILED = False
    def derived(owner_id: int):
        return Lead.objects.filter(owner_id__in=[owner_id, owner_id + 1])

    build = Counted(derived)
    for _ in range(2):
        for owner in (leads.rep, leads.other_rep):
            expected = sorted(lead.pk for lead in derived(owner.pk))
            assert sorted(lead.pk for lead in db.compiled_once(build, owner.pk)) == expected
    assert build.calls == 2 + 4, "two to try, then one a call"


def test_each_shape_is_compiled_apart(leads):
    def scored(owner_id: int, at_least: int):
        return Lead.objects.filter(owner_id=owner_id, score__gte=at_least).order_by("last_name")

    assert [lead.last_name for lead in db.compiled_once(scored, leads.rep.pk, shape=(50,))] == ["Ada"]
    assert [lead.last_name for lead in db.compiled_once(scored, leads.rep.pk, shape=(10,))] == ["Ada", "Bo"]
    assert [lead.last_name for lead in db.compiled_once(scored, leads.rep.pk, shape=(50,))] == ["Ada"]


def test_a_list_keyed_without_one_of_its_inputs_fails_the_tests_check(leads):
    def listed(at_least: int):
        return db.compiled_once(
            lambda: Lead.objects.filter(score__gte=at_least), key="leads scored", shape=("forgot the score",)
        )

    assert len(listed(50)) == 2
    with pytest.raises(AssertionError, match="misses an input"):
        listed(10)


def test_an_id_beyond_any_key_finds_nothing_as_the_orm_would(leads):
    def by_pk(pk: int):
        return Lead.objects.filter(pk=pk)

    db.compiled_once(by_pk, leads.rep.pk)
    assert db.compiled_once(by_pk, 2**70) == []


def test_a_lead_shows_to_whom_its_owner_lets_see_it(cast):
    mine, theirs, queued = make_lead(owner=cast.rep), make_lead(owner=cast.other_rep), make_lead(owner=None)
    seen = {
        who: {lead.pk for lead in (mine, theirs, queued) if lead_to_show(getattr(cast, who), lead.pk) is not None}
        for who in ("rep", "manager", "other_manager", "marketer", "outsider")
    }
    assert seen == {
        "rep": {mine.pk},
        "manager": {mine.pk, queued.pk},
        "other_manager": {theirs.pk, queued.pk},
        "marketer": {mine.pk, theirs.pk, queued.pk},
        "outsider": set(),
    }
    assert lead_to_show(cast.marketer, 2**70) is None


def test_a_count_is_the_querysets_count_for_its_ids_and_is_built_only_twice(leads, settings):
    settings.HANDOFF_CHECK_COMPILED = False  # the tests' check builds it again on every call
    build = Counted(lambda owner_id, bound: Lead.objects.filter(owner_id=owner_id).order_by("-score")[:bound])

    for _ in range(3):
        assert db.counted_once(build, leads.rep.pk, shape=(10,)) == 3
        assert db.counted_once(build, leads.other_rep.pk, shape=(10,)) == 1
        assert db.counted_once(build, 987_654, shape=(10,)) == 0
    assert db.counted_once(build, leads.rep.pk, shape=(2,)) == 2, "a bounded count stops at its bound"

    assert build.calls == 4, "built with two sets of stand-ins per shape, then never again"


def test_a_count_keyed_without_one_of_its_inputs_fails_the_tests_check(leads):
    def counted(at_least: int) -> int:
        return db.counted_once(lambda: Lead.objects.filter(score__gte=at_least), key="count", shape=("no score",))

    assert counted(50) == 2
    with pytest.raises(AssertionError, match="misses an input"):
        counted(10)
