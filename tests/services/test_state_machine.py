"""The rules of engagement, table-driven: every (state, action, role) either moves the handoff and writes
exactly one event, or raises and writes nothing."""
from __future__ import annotations

import pytest

from handoff.exceptions import DomainError, InvalidInput, NotAllowed, WrongState
from handoff.models import Handoff, HandoffEvent, Role, Touch
from handoff.services import handoffs as sm
from handoff.services.actors import Actor
from tests.factories import make_user

STATES = ["qualified", "accepted", "rejected", "disputed", "converted", "recycled", "closed"]
ROLES = ["marketer", "rep", "other_rep", "manager", "other_manager", "outsider", "rule", "sync", "system"]
OPEN = {"qualified", "accepted", "rejected", "disputed"}

# The agreement, written out by hand: (action, state) -> who may do it. Anything else is forbidden.
ALLOWED: dict[tuple[str, str], set[str]] = {
    ("accept", "qualified"): {"rep", "manager"},
    ("reject", "qualified"): {"rep", "manager"},
    ("touch", "accepted"): {"rep", "manager"},
    ("convert", "accepted"): {"rep", "manager", "sync"},
    ("convert", "qualified"): {"sync"},
    ("convert", "rejected"): {"sync"},
    ("convert", "disputed"): {"sync"},
    ("dispute", "rejected"): {"marketer"},
    ("uphold", "disputed"): {"manager"},
    ("overturn", "disputed"): {"manager"},
    ("recycle", "rejected"): {"marketer", "rep", "manager"},
    ("recycle", "accepted"): {"rep", "manager", "system"},
    ("recycle", "qualified"): {"system"},
    **{("close", s): {"sync"} for s in OPEN},
    **{("reassign", s): {"sync", "system", "manager"} for s in OPEN},
}
ACTIONS = sorted({action for action, _ in ALLOWED})

TARGET = {
    "accept": "accepted",
    "reject": "rejected",
    "convert": "converted",
    "dispute": "disputed",
    "uphold": "rejected",
    "overturn": "qualified",
    "recycle": "recycled",
    "close": "closed",
}

# How to bring a fresh handoff into each state, through the state machine itself.
PATHS = {
    "qualified": [],
    "accepted": ["accept"],
    "rejected": ["reject"],
    "disputed": ["reject", "dispute"],
    "converted": ["accept", "convert"],
    "recycled": ["reject", "recycle"],
    "closed": ["close"],
}


def actor_for(cast, role: str) -> Actor:
    if role in ("rule", "sync", "system"):
        return getattr(Actor, role)()
    return cast.actor(role)


def perform(action: str, handoff: Handoff, actor: Actor, cast) -> Handoff:
    """Each action with valid input, so only the role and the state decide."""
    h = handoff
    if action == "accept":
        return sm.handoff_accept(handoff=h, actor=actor)
    if action == "reject":
        return sm.handoff_reject(handoff=h, actor=actor, reason="no_budget")
    if action == "touch":
        return sm.handoff_touch(handoff=h, actor=actor, kind="call", outcome="attempt")
    if action == "convert":
        return sm.handoff_convert(handoff=h, actor=actor)
    if action == "dispute":
        return sm.handoff_dispute(handoff=h, actor=actor, reason="meets_definition", note="Score 92")
    if action in ("uphold", "overturn"):
        return sm.handoff_resolve(handoff=h, actor=actor, decision=action)
    if action == "recycle":
        return sm.handoff_recycle(handoff=h, actor=actor, reason="not_ready")
    if action == "close":
        return sm.handoffs_close(handoffs=[h], actor=actor, note="Deleted in CRM")[0]
    if action == "reassign":
        return sm.handoffs_reassign(handoffs=[h], actor=actor, owner=cast.teammate)[0]
    raise AssertionError(action)


SETUP_ACTOR = {
    "accept": "rep",
    "reject": "rep",
    "dispute": "marketer",
    "convert": "rep",
    "recycle": "rep",
    "close": "sync",
}


def bring_to(state: str, handoff: Handoff, cast) -> Handoff:
    for step in PATHS[state]:
        handoff = perform(step, handoff, actor_for(cast, SETUP_ACTOR[step]), cast)
    assert handoff.state == state
    return handoff


@pytest.fixture
def teammate(cast):
    cast.teammate = make_user("tess.rep", Role.SALES_REP, team=cast.team)
    return cast.teammate


CASES = [(state, action, role) for state in STATES for action in ACTIONS for role in ROLES]


@pytest.mark.parametrize(("state", "action", "role"), CASES, ids=["-".join(c) for c in CASES])
def test_every_state_action_and_role(cast, teammate, qualified, state, action, role):
    handoff = bring_to(state, qualified, cast)
    events_before = HandoffEvent.objects.count()
    touches_before = Touch.objects.count()
    snapshot = Handoff.objects.filter(pk=handoff.pk).values().get()
    actor = actor_for(cast, role)
    allowed = role in ALLOWED.get((action, state), set())

    if allowed:
        result = perform(action, handoff, actor, cast)
        assert result.state == TARGET.get(action, state)
        assert HandoffEvent.objects.count() == events_before + 1
        event = HandoffEvent.objects.latest("id")
        assert (event.from_state, event.to_state) == (state, result.state)
        assert event.actor_kind == actor.kind
        assert event.actor_id == actor.user_id
        assert event.definition_id == handoff.definition_id
    else:
        # 403 when the role may never do this to this handoff, 409 when only the state is wrong.
        may_ever = any(role in who for (a, _), who in ALLOWED.items() if a == action)
        expected = WrongState if may_ever else NotAllowed
        with pytest.raises(expected) as raised:
            perform(action, handoff, actor, cast)
        assert raised.value.message
        assert HandoffEvent.objects.count() == events_before
        assert Touch.objects.count() == touches_before
        assert Handoff.objects.filter(pk=handoff.pk).values().get() == snapshot


def test_a_rep_cannot_act_on_another_reps_lead_even_in_the_right_state(cast, qualified):
    with pytest.raises(NotAllowed, match="only"):
        sm.handoff_accept(handoff=qualified, actor=cast.actor("other_rep"))


@pytest.mark.parametrize("role", ["marketer"])
def test_marketer_qualifies_and_the_lead_goes_to_its_owner(cast, lead, role):
    handoff = sm.handoff_qualify(lead=lead, actor=cast.actor(role), note="Booked a demo")
    assert (handoff.state, handoff.owner, handoff.sequence) == ("qualified", cast.rep, 1)
    assert handoff.qualified_by == cast.marketer
    assert handoff.definition.is_active
    event = handoff.events.get()
    assert (event.action, event.from_state, event.to_state, event.note) == ("qualify", "", "qualified", "Booked a demo")


@pytest.mark.parametrize("role", ["rep", "manager", "outsider", "sync", "system"])
def test_only_marketers_and_the_rule_qualify(cast, lead, role):
    with pytest.raises(NotAllowed):
        sm.handoff_qualify(lead=lead, actor=actor_for(cast, role))
    assert not Handoff.objects.exists()
    assert not HandoffEvent.objects.exists()


def test_a_lead_with_an_open_handoff_cannot_be_qualified_again(cast, qualified):
    with pytest.raises(WrongState, match="open handoff"):
        sm.handoff_qualify(lead=qualified.lead, actor=cast.actor("marketer"))
    assert Handoff.objects.count() == 1


def test_a_deleted_lead_cannot_be_qualified(cast, lead):
    lead.is_deleted = True
    lead.save()
    with pytest.raises(WrongState, match="deleted"):
        sm.handoff_qualify(lead=lead, actor=cast.actor("marketer"))


@pytest.mark.parametrize(
    ("action", "kwargs", "field"),
    [
        ("reject", {"reason": None}, "reason"),
        ("reject", {"reason": ""}, "reason"),
        ("reject", {"reason": "made_up"}, "reason"),
        ("reject", {"reason": "not_ready"}, "reason"),  # a recycle reason is not a reject reason
        ("reject", {"reason": "other", "note": "  "}, "note"),
    ],
)
def test_a_reject_needs_a_valid_reason_and_writes_nothing_without_one(cast, qualified, action, kwargs, field):
    with pytest.raises(InvalidInput) as raised:
        sm.handoff_reject(handoff=qualified, actor=cast.actor("rep"), **kwargs)
    assert raised.value.field == field
    assert raised.value.status == 400
    qualified.refresh_from_db()
    assert qualified.state == "qualified"
    assert qualified.events.count() == 1


def test_reject_with_other_and_a_note_records_both(cast, qualified):
    handoff = sm.handoff_reject(handoff=qualified, actor=cast.actor("rep"), reason="other", note="Left the company")
    assert (handoff.reason.code, handoff.note) == ("other", "Left the company")
    assert handoff.events.latest("id").reason.code == "other"


def test_resolve_needs_a_decision(cast, qualified):
    handoff = bring_to("disputed", qualified, cast)
    with pytest.raises(InvalidInput) as raised:
        sm.handoff_resolve(handoff=handoff, actor=cast.actor("manager"), decision="maybe")
    assert raised.value.field == "decision"


def test_overturned_dispute_hands_the_lead_back_with_a_fresh_clock(cast, qualified):
    handoff = bring_to("disputed", qualified, cast)
    handed_before = handoff.handed_at
    handoff = sm.handoff_resolve(handoff=handoff, actor=cast.actor("manager"), decision="overturn", note="Fits ICP")
    assert handoff.state == "qualified"
    assert handoff.owner == cast.rep
    assert handoff.handed_at > handed_before
    assert handoff.rejected_at is None and handoff.reason is None
    assert handoff.events.latest("id").data == {"decision": "overturn"}


def test_recycled_lead_qualifies_again_as_the_next_handoff_of_the_same_lead(cast, qualified):
    recycled = bring_to("recycled", qualified, cast)
    second = sm.handoff_qualify(lead=recycled.lead, actor=cast.actor("marketer"))
    assert second.lead == recycled.lead
    assert (second.sequence, second.recycle_count) == (2, 1)
    sm.handoff_reject(handoff=second, actor=cast.actor("rep"), reason="no_budget")
    sm.handoff_recycle(handoff=second, actor=cast.actor("marketer"), reason="timing")
    third = sm.handoff_qualify(lead=recycled.lead, actor=cast.actor("marketer"))
    assert third.sequence == 3
    assert list(recycled.lead.handoffs.order_by("sequence").values_list("state", flat=True)) == [
        "recycled",
        "recycled",
        "qualified",
    ]


def test_touch_records_the_earliest_touch_and_connection_even_when_logged_late(cast, qualified):
    from datetime import timedelta

    handoff = sm.handoff_accept(handoff=qualified, actor=cast.actor("rep"))
    earlier = qualified.handed_at + timedelta(minutes=1)
    connected = earlier + timedelta(minutes=5)
    later = connected + timedelta(minutes=1)
    sm.handoff_touch(
        handoff=handoff, actor=cast.actor("rep"), kind="email", outcome="connected", at=connected, logged_at=later
    )
    handoff = sm.handoff_touch(
        handoff=handoff, actor=cast.actor("rep"), kind="call", outcome="attempt", at=earlier, logged_at=later
    )
    assert handoff.first_touch_at == earlier
    assert handoff.first_connect_at == connected
    assert handoff.touches.count() == 2
    assert handoff.state == "accepted"


def test_a_touch_cannot_be_logged_in_the_future(cast, qualified):
    from datetime import timedelta

    handoff = sm.handoff_accept(handoff=qualified, actor=cast.actor("rep"))
    with pytest.raises(InvalidInput) as raised:
        sm.handoff_touch(
            handoff=handoff, actor=cast.actor("rep"), kind="call", outcome="attempt",
            at=handoff.accepted_at + timedelta(hours=1),
        )
    assert raised.value.field == "at"


@pytest.mark.parametrize(("field", "value"), [("kind", "fax"), ("outcome", "maybe")])
def test_touch_rejects_unknown_kinds_and_outcomes(cast, qualified, field, value):
    handoff = sm.handoff_accept(handoff=qualified, actor=cast.actor("rep"))
    kwargs = {"kind": "call", "outcome": "attempt", field: value}
    with pytest.raises(InvalidInput) as raised:
        sm.handoff_touch(handoff=handoff, actor=cast.actor("rep"), **kwargs)
    assert raised.value.field == field
    assert not Touch.objects.exists()


def test_bulk_reject_is_all_or_nothing(cast, qualified):
    from tests.factories import make_lead

    mine = sm.handoff_qualify(lead=make_lead(owner=cast.rep), actor=cast.actor("marketer"))
    theirs = sm.handoff_qualify(lead=make_lead(owner=cast.other_rep), actor=cast.actor("marketer"))
    events = HandoffEvent.objects.count()
    with pytest.raises(NotAllowed):
        sm.handoffs_reject(handoffs=[qualified, mine, theirs], actor=cast.actor("rep"), reason="student")
    assert HandoffEvent.objects.count() == events
    assert set(Handoff.objects.values_list("state", flat=True)) == {"qualified"}

    done = sm.handoffs_reject(handoffs=[qualified, mine], actor=cast.actor("rep"), reason="student")
    assert {h.state for h in done} == {"rejected"}
    assert HandoffEvent.objects.count() == events + 2


def test_allowed_actions_lists_what_the_buttons_offer(cast, qualified):
    assert sm.allowed_actions(cast.actor("rep"), qualified) == ["accept", "reject"]
    assert sm.allowed_actions(cast.actor("marketer"), qualified) == []
    rejected = sm.handoff_reject(handoff=qualified, actor=cast.actor("rep"), reason="student")
    assert sm.allowed_actions(cast.actor("marketer"), rejected) == ["dispute", "recycle"]


def test_domain_errors_carry_their_http_status():
    assert (InvalidInput("x").status, NotAllowed("x").status, WrongState("x").status) == (400, 403, 409)
    assert issubclass(WrongState, DomainError)
