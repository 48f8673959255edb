"""Reading handoffs and leads: who may see what, and the lists each role works from."""
from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from handoff.db import compiled_once, own_columns
from handoff.models import Handoff, HandoffEvent, HandoffState, Lead, Milestone, Role, Touch
from handoff.models.handoffs import OPEN_STATES

from .people import managed_teams, team_member_ids, user_roles
from .sla import NEXT_CLOCK_COLUMNS

# What a page shows of a person a row points to (the owner, who qualified it, who logged a touch): their name.
PERSON_COLUMNS = ("username", "first_name", "last_name")


def visibility(user: AbstractBaseUser) -> tuple[bool, frozenset[int], bool]:
    """What a person may see of handoffs and leads alike (both have an `owner`): (everything, the owners whose rows,
    the queue's rows too). Marketers and admins see everything; managers their teams' and the queue's; reps their
    own. A manager's teams are looked up once per request. A value, so it also keys the lists compiled once per
    reader (the rep's and the team's pages)."""
    roles = user_roles(user)
    if user.is_staff or Role.MARKETER in roles:
        return True, frozenset(), False
    owners: set[int] = set()
    if Role.MANAGER in roles:
        owners.update(team_member_ids(user))
    if Role.SALES_REP in roles:
        owners.add(user.pk)
    return False, frozenset(owners), Role.MANAGER in roles


def _visible(user: AbstractBaseUser) -> Q:
    """`visibility` as a filter on the owner column alone, so the owner and newest-first indexes serve the list:
    a join through owner → profile → team → manager cannot be served by an index, and PostgreSQL read every row to
    answer it."""
    everything, owners, queue = visibility(user)
    if everything:
        return Q()
    visible = Q(pk__in=[])
    if queue:
        visible |= Q(owner__isnull=True)
    if owners:
        visible |= Q(owner_id=next(iter(owners))) if len(owners) == 1 else Q(owner_id__in=sorted(owners))
    return visible


def _sees(user: AbstractBaseUser, owner_id: int | None) -> bool:
    """`visibility` of one row: whether the user may see a row with that owner."""
    everything, owners, queue = visibility(user)
    return everything or (owner_id is None and queue) or owner_id in owners


def handoffs_visible_to(user: AbstractBaseUser) -> QuerySet[Handoff]:
    """Marketers and admins see every handoff; managers their teams' and the queue's; reps their own."""
    base = Handoff.objects.select_related("lead", "owner", "definition", "reason", "dispute_reason")
    return base.filter(_visible(user))


def handoffs_visible_in_parts(user: AbstractBaseUser) -> list[QuerySet[Handoff]]:
    """What `handoffs_visible_to(user)` holds, as disjoint parts each read newest first from an index of its own, for
    a list that merges them (`db.MergedQuerySet`).

    A manager's: one part per team they manage, by the owner's team the database keeps on each handoff (migration
    0022: the team's members' handoffs), and the queue's. Found whole, newest first, their page passed over every
    other team's rows in `handoff_handed_idx` (at 1,000,000 handoffs, 7,400 index entries for a page of
    `?breached=true`); a part reads only its own. Each part is its own condition alone (not `handoffs_visible_to`'s
    OR as well): with both, PostgreSQL took a team for a twentieth of its size and sorted it instead of reading its
    index. The parts are plain querysets (no related rows): a list finds its page's positions in them. Anyone else's
    (a rep's, a marketer's), and a manager's who is also a rep outside the teams they manage: one part,
    `handoffs_visible_to(user)`."""
    everything, owners, queue = visibility(user)
    teams = managed_teams(user)
    members = {member for team in teams.values() for member in team}
    if everything or not queue or not teams or not owners <= members:
        return [handoffs_visible_to(user)]
    parts = [Handoff.objects.filter(owner_team_id=team) for team in sorted(teams)]
    return [*parts, Handoff.objects.filter(owner__isnull=True)]


def leads_visible_to(user: AbstractBaseUser) -> QuerySet[Lead]:
    return Lead.objects.select_related("owner").filter(_visible(user))


def lead_to_show(user: AbstractBaseUser, pk: int) -> Lead | None:
    """The lead, if the user may see it (None: no such lead, or not theirs to see), reading of the owner only their
    name (a lead's page; the query compiled once per process: `compiled_once`)."""
    found = compiled_once(_lead_to_show, pk)
    return found[0] if found and _sees(user, found[0].owner_id) else None


def _lead_to_show(pk: int) -> QuerySet[Lead]:
    return (
        Lead.objects.filter(pk=pk)
        .select_related("owner")
        .only(*own_columns(Lead), *(f"owner__{column}" for column in PERSON_COLUMNS))
    )


def open_handoff_exists() -> Exists:
    return Exists(Handoff.objects.filter(lead=OuterRef("pk"), state__in=OPEN_STATES))


def lead_matches(text: str, *, through: str = "") -> Q:
    """A lead whose name, company or e-mail contains `text`, or whose CRM id is `text` (`through`: the path to the
    lead from the model filtered, e.g. "lead__")."""
    contains = Q()
    for field in ("first_name", "last_name", "company", "email"):
        contains |= Q(**{f"{through}{field}__icontains": text})
    return contains | Q(**{f"{through}crm_id": text})


def leads_unqualified(*, search: str = "") -> QuerySet[Lead]:
    """Live leads with no open handoff: what a marketer may tag as qualified."""
    # A filter, not an annotation: in the SELECT list PostgreSQL would hash every open handoff for each page.
    leads = Lead.objects.filter(~open_handoff_exists(), is_deleted=False, is_converted=False).select_related("owner")
    search = search.strip()
    if search:
        leads = leads.filter(lead_matches(search))
    return leads.order_by("-crm_created_at", "-id")


def handoffs_of_rep(user: AbstractBaseUser, *, open_only: bool = True) -> QuerySet[Handoff]:
    """The rep's own handoffs, newest hand-over first."""
    handoffs = handoffs_visible_to(user).filter(owner=user)
    if open_only:
        handoffs = handoffs.filter(state__in=OPEN_STATES)
    return handoffs.order_by("-handed_at", "-id")


def disputes_to_resolve(user: AbstractBaseUser) -> QuerySet[Handoff]:
    return handoffs_visible_to(user).filter(state=HandoffState.DISPUTED).order_by("disputed_at", "id")


def lead_handoffs(lead: Lead) -> list[Handoff]:
    """The lead's handoffs, first first, with what its page shows of each: the owner (and their team, for the rules),
    who qualified it, the definition, the reasons, and the touches with who logged them (the query compiled once per
    process: `compiled_once`)."""
    handoffs = compiled_once(_lead_handoffs, lead.pk)
    for handoff in handoffs:
        handoff.lead = lead
    return handoffs


def _lead_handoffs(lead_id: int) -> QuerySet[Handoff]:
    related = [f"{person}__{column}" for person in ("owner", "qualified_by") for column in PERSON_COLUMNS]
    return (
        Handoff.objects.filter(lead_id=lead_id)
        .select_related("owner__profile", "definition", "reason", "dispute_reason", "qualified_by")
        .only(*own_columns(Handoff), *related, "owner__profile__team_id", "definition__version", "definition__name",
              "reason__label", "dispute_reason__label")
        .prefetch_related(Prefetch("touches", queryset=Touch.objects.select_related("by").only(
            *own_columns(Touch), *(f"by__{column}" for column in PERSON_COLUMNS))))
        .order_by("sequence")
    )


def lead_history(lead: Lead) -> list[HandoffEvent]:
    """Every event of every handoff of the lead, oldest first, with what the history shows of the actor, the reason,
    the handoff and the definition (the query compiled once per process: `compiled_once`)."""
    return compiled_once(_lead_history, lead.pk)


def _lead_history(lead_id: int) -> QuerySet[HandoffEvent]:
    return (
        HandoffEvent.objects.filter(lead_id=lead_id)
        .select_related("actor", "reason", "handoff", "definition")
        .only(*own_columns(HandoffEvent), *(f"actor__{column}" for column in PERSON_COLUMNS), "reason__label",
              "handoff__sequence", "definition__version")
    )


# What a rep can act on now: leads to accept or reject, and accepted leads to touch until they convert or recycle.
REP_TO_DO_STATES = (HandoffState.QUALIFIED, HandoffState.ACCEPTED)


def handoffs_matching(handoffs: QuerySet[Handoff], text: str) -> QuerySet[Handoff]:
    """Handoffs whose lead matches every word of `text` in its name, company or e-mail (or its CRM id exactly)."""
    words = text.split()
    if not words:
        return handoffs
    for word in words:
        handoffs = handoffs.filter(lead_matches(word, through="lead__"))
    return handoffs


def handoffs_of_segment(handoffs: QuerySet[Handoff], segment: str) -> QuerySet[Handoff]:
    """Handoffs timed in the SLA segment (e.g. "hot"), by any of their clocks."""
    return handoffs.filter(Exists(Milestone.objects.filter(handoff=OuterRef("pk"), segment=segment)))


def lead_sources_of(owner: AbstractBaseUser) -> list[str]:
    """The lead sources of the leads a person owns, for a filter's choices (their leads alone: an index range, not a
    join of every handoff to its lead; the query compiled once per process: `compiled_once`)."""
    return sorted(source for source in compiled_once(_lead_sources, owner.pk) if source)


def _lead_sources(owner_id: int) -> QuerySet:
    return Lead.objects.filter(owner_id=owner_id).order_by().values_list("lead_source", flat=True).distinct()


# A marketer's MQLs, by how they were involved: handed over by them, or their dispute of its rejection.
MQL_INVOLVEMENT = {"qualified": "Qualified by me", "disputed": "Disputed by me"}


def mqls_of_marketer(user: AbstractBaseUser, *, involvement: str = "") -> QuerySet[Handoff]:
    """The handoffs a marketer qualified or whose rejection they disputed, most recently qualified first."""
    mine = Q(qualified_by=user)
    disputed = Q(pk__in=HandoffEvent.objects.filter(action="dispute", actor=user).values("handoff_id"))
    scope = {"qualified": mine, "disputed": disputed}.get(involvement, mine | disputed)
    return (
        Handoff.objects.filter(scope)
        .select_related("lead", "owner", "reason", "dispute_reason", "qualified_by")
        .order_by("-qualified_at", "-id")
    )


# What a list page's rows show of a handoff (the lead's name, company, e-mail, source and score; the state, sequence
# and hand-over time; its next clock, `NEXT_CLOCK_COLUMNS`, last), what its buttons need (the owner and the owner's
# team, for the rules), and, for the team's list, the owner's name and the reason: read as values, 16 or 20 a row, and
# no model instances (building 50 rows of handoff, lead, owner and profile instances cost more than the rest of the
# page's queries), nor a query of their clocks.
LIST_ROW_COLUMNS = (
    "id", "lead_id", "sequence", "state", "owner_id", "handed_at", "owner__profile__team_id",
    "lead__first_name", "lead__last_name", "lead__crm_id", "lead__company", "lead__email", "lead__lead_source",
    "lead__score",
)
LIST_ROW_NAME_COLUMNS = ("owner__first_name", "owner__last_name", "owner__username", "reason__label")


def handoff_list_values(handoffs: QuerySet[Handoff], *, names: bool = False, shape: tuple | None = None
                        ) -> list[tuple]:
    """The `LIST_ROW_COLUMNS` (and with `names`, `LIST_ROW_NAME_COLUMNS`), then the `NEXT_CLOCK_COLUMNS`, of these
    handoffs, in their order. `shape`: every input `handoffs` was built from, for a query compiled once per process
    for each shape (`compiled_once`)."""
    columns = (*LIST_ROW_COLUMNS, *LIST_ROW_NAME_COLUMNS) if names else LIST_ROW_COLUMNS

    def build():
        return handoffs.select_related(None).annotate(**NEXT_CLOCK_COLUMNS).values_list(*columns, *NEXT_CLOCK_COLUMNS)

    if shape is None:
        return list(build())
    return compiled_once(build, key=handoff_list_values, shape=(names, *shape))
