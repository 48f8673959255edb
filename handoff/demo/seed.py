"""Seeds the demo through the services: the cast, the leads as the CRM had them, every story replayed in order."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import groupby

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from handoff.exceptions import InvalidInput
from handoff.models import Handoff, HandoffEvent, SlaPolicy
from handoff.services import handoffs as machine
from handoff.services.actors import Actor
from handoff.services.definitions import definition_create
from handoff.services.leads import leads_upsert_from_crm
from handoff.services.people import NewPerson, calendar_create, people_create, team_create
from handoff.services.reports import report_facts_refresh
from handoff.services.sla import sla_policy_save

from . import cast
from .feedback import feedback_replay
from .routing import routing_seed
from .stories import DEFAULT_LEADS, DEFAULT_SEED, HISTORY, REVISED_AGO, REVISION, LeadPlan, Step, demo_plan

MIN_LEADS, MAX_LEADS = 50, 5000
AGREEMENT = {
    "mql_targets": [
        {"team": "Americas", "per_week": 30},
        {"team": "EMEA", "per_week": 30},
        {"segment": "hot", "per_week": 15},
    ],
    "min_acceptance_rate": Decimal("0.6"),
}
# The rule and the sync act on a whole sync page at once; a person acts on one lead at a time.
BATCHABLE = {"qualify", "convert", "close"}
ONE_AT_A_TIME = {
    "accept": machine.handoff_accept,
    "reject": machine.handoff_reject,
    "dispute": machine.handoff_dispute,
    "resolve": machine.handoff_resolve,
    "recycle": machine.handoff_recycle,
}


@dataclass
class SeedResult:
    leads: int
    handoffs: int
    events: int
    states: dict[str, int]


def demo_is_seeded() -> bool:
    """The demo logins are created in the same transaction as the history, so their presence means both."""
    names = [p.username for p in cast.LOGINS]
    return User.objects.filter(username__in=names).count() == len(names)


def demo_seed(*, leads: int = DEFAULT_LEADS, seed: int = DEFAULT_SEED, now: datetime | None = None) -> SeedResult:
    """Create the demo cast and history in one transaction; the caller checks `demo_is_seeded` first."""
    if isinstance(leads, bool) or not isinstance(leads, int) or not MIN_LEADS <= leads <= MAX_LEADS:
        raise InvalidInput(f"The number of leads must be between {MIN_LEADS} and {MAX_LEADS}.", field="leads")
    real_now = timezone.now()
    now = now or real_now
    if timezone.is_naive(now) or now > real_now:
        raise InvalidInput("The demo's 'now' must be an aware datetime, not in the future.", field="now")
    plans = demo_plan(leads=leads, seed=seed, now=now)
    with transaction.atomic():
        users = cast_create()
        agreement_terms_set()
        # The leads arrive as the CRM first had them, the stories play, then the CRM's last word on each lead
        # (owner, conversion, deletion) is mirrored, as the sync would have brought it in.
        lead_ids = leads_upsert_from_crm(records=[plan.record(final=False) for plan in plans])
        handoffs_replay(plans=plans, lead_ids=lead_ids, users=users, revise_at=now - REVISED_AGO)
        leads_upsert_from_crm(records=[plan.record(final=True) for plan in plans])
        # Sales feedback on that history: asked, reminded and answered day by day, as the jobs would have.
        feedback_replay(start=now - HISTORY, now=now, seed=seed, users=users)
        # Routing: rules by region in force, reps' shares, one away, and the leads the history left unowned routed now.
        routing_seed(users=users, now=now)
    # The reports read a summary the report job keeps; the history is summarised at once, so it shows at first sight.
    report_facts_refresh(full=True)
    handoffs = Handoff.objects.filter(lead_id__in=lead_ids.values())
    return SeedResult(
        leads=len(lead_ids),
        handoffs=handoffs.count(),
        events=HandoffEvent.objects.filter(lead_id__in=lead_ids.values()).count(),
        states=dict(handoffs.values_list("state").annotate(n=Count("id")).values_list("state", "n")),
    )


def agreement_terms_set() -> None:
    """Marketing's side of the demo's agreement, on the SLA policy in force: the MQLs each team and the hot segment
    expect a week, and the share of MQLs sales is to accept (terms that do not change a policy's clocks)."""
    policy = SlaPolicy.objects.filter(is_active=True).first()
    if policy is None:
        return
    policy.mql_targets = AGREEMENT["mql_targets"]
    policy.min_acceptance_rate = AGREEMENT["min_acceptance_rate"]
    sla_policy_save(policy=policy)


def cast_create() -> dict[str, User]:
    """The demo logins and their two teams, each with its calendar (New York with US public holidays, Berlin with
    German ones); a person without a team works by the calendar of their city. Refuses to take over a user name
    already in use."""
    calendars = {
        team.name: calendar_create(name=team.calendar_name, time_zone=team.time_zone, holiday_country=team.holidays)
        for team in cast.TEAMS
    }
    by_zone = {team.time_zone: calendars[team.name] for team in cast.TEAMS}
    users = people_create(
        people=[
            NewPerson(p.username, p.first_name, p.last_name, p.email, p.role, is_admin=p.role is None,
                      crm_user_id=p.crm_user_id, calendar=None if p.team else by_zone.get(p.time_zone))
            for p in cast.LOGINS
        ],
        password=cast.PASSWORD,
    )
    for team in cast.TEAMS:
        members = [users[p.username] for p in cast.LOGINS if p.team == team.name]
        team_create(name=team.name, manager=users[cast.MANAGER_OF[team.name]], members=members,
                    calendar=calendars[team.name])
    return users


def _sort_key(step: Step):
    return (step.at, step.action, step.actor, step.params, step.lead)


def _batch_key(step: Step):
    if step.action in BATCHABLE and step.actor in ("rule", "sync"):
        return (step.at, step.action, step.actor, step.params)
    return (step.at, step.lead)


def handoffs_replay(*, plans: Iterable[LeadPlan], lead_ids: dict[str, int], users: dict[str, User],
                    revise_at: datetime) -> None:
    """Play every story through the state machine in time order, revising the lead definition on the way.

    Every actor replays (`Actor.replaying`): the CRM already holds where the stories ended, so the history
    owes it no write-back.
    """
    plans = list(plans)
    actors = {name: Actor.person(user) for name, user in users.items()}
    actors.update(rule=Actor.rule(), sync=Actor.sync(), system=Actor.system())
    actors = {name: actor.replaying() for name, actor in actors.items()}
    lead_of = {plan.index: lead_ids[plan.fields["Id"]] for plan in plans}
    index_of = {lead_id: index for index, lead_id in lead_of.items()}
    steps = sorted((step for plan in plans for step in plan.steps), key=_sort_key)
    current: dict[int, int] = {}
    revised = False
    for _, batch in groupby(steps, key=_batch_key):
        batch = list(batch)
        step = batch[0]
        if not revised and step.at >= revise_at:
            definition_create(**REVISION, created_by=users[cast.MARKETER_LOGIN], activate=True)
            revised = True
        actor, params, at = actors[step.actor], dict(step.params), step.at
        ids = [current.get(s.lead) for s in batch]
        if step.action == "qualify":
            done = machine.handoffs_qualify(lead_ids=[lead_of[s.lead] for s in batch], actor=actor, at=at,
                                            strict=True, **params)
            current.update((index_of[handoff.lead_id], handoff.pk) for handoff in done)
        elif step.action == "convert":
            machine.handoffs_convert(handoffs=ids, actor=actor, at=at, **params)
        elif step.action == "close":
            machine.handoffs_close(handoffs=ids, actor=actor, at=at, **params)
        elif step.action == "touch":
            machine.handoff_touch(handoff=ids[0], actor=actor, at=at, logged_at=at, **params)
        elif step.action == "reassign":
            owner = users[params.pop("owner")]
            machine.handoffs_reassign(handoffs=ids, actor=actor, owner=owner, at=at, **params)
        elif step.action in ONE_AT_A_TIME:
            ONE_AT_A_TIME[step.action](handoff=ids[0], actor=actor, at=at, **params)
        else:
            raise ValueError(f"Unknown demo step {step.action!r}")
