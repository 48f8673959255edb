"""What every page shares: login and role checks, the reader's time zone, paging and safe redirects back."""
from __future__ import annotations

import contextlib
import functools
import zoneinfo
from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.http import HttpRequest
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme

from handoff.db import counted_once, prepared_reads
from handoff.models import Handoff, HandoffState, Lead, Role
from handoff.selectors.calendars import person_time_zone
from handoff.selectors.handoffs import handoff_list_values
from handoff.selectors.people import user_roles
from handoff.selectors.reference import business_calendars
from handoff.selectors.sla import clock_of_row, clocks_ahead, deadlines, wording
from handoff.services.actors import Actor
from handoff.services.handoffs import actions_reader, allowed_actions

PAGE_SIZE = 50

def user_time_zone(user) -> zoneinfo.ZoneInfo:
    """The zone the reader works in (their calendar's), read once per request."""
    zone = getattr(user, "_time_zone", None)
    if zone is None:
        zone = user._time_zone = person_time_zone(user)
    return zone


def page(*roles: Role):
    """A signed-in page, shown in the reader's time zone; with roles, only people holding one of them (else 403)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if roles and not user_roles(request.user) & set(roles):
                raise PermissionDenied("This page is for another role.")
            reads = prepared_reads() if request.method in ("GET", "HEAD") else contextlib.nullcontext()
            with timezone.override(user_time_zone(request.user)), reads:
                return view(request, *args, **kwargs)

        return login_required(wrapper)

    return decorate


def lead_link(text: str, lead_id: int) -> str:
    """A success message that links to the lead it is about, so the lead is one click away after it leaves a list."""
    return format_html('{} <a href="{}">Open the lead</a>', text, reverse("lead_detail", args=[lead_id]))


# A counted list counts at most this many rows (and one more, to know there are more): the count of a team's 50,000
# handoffs cost 20-30 ms of PostgreSQL on every view, a bounded one under half a millisecond. Beyond it the list
# says "1,000+ in all" and its pages go on newer / older, uncounted.
COUNT_BOUND = 1_000


class BoundedPaginator(Paginator):
    """A paginator that counts a queryset no further than `COUNT_BOUND` + 1 rows: `capped` says it holds more.
    `shape`: every input the queryset is built from, for a count compiled once per process (`db.counted_once`)."""

    def __init__(self, *args, shape: tuple | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.shape = shape

    @cached_property
    def count(self) -> int:
        if not self.counts_bounded:  # a list, already read: its length is known
            return len(self.object_list)
        # Unordered: any COUNT_BOUND + 1 matching rows will do, read the cheapest way.
        bounded = self.object_list.order_by()[: COUNT_BOUND + 1]
        if self.shape is None:
            return bounded.count()
        return counted_once(lambda: bounded, key=BoundedPaginator, shape=(*self.shape, COUNT_BOUND))

    @property
    def counts_bounded(self) -> bool:
        return hasattr(self.object_list, "order_by")

    @property
    def capped(self) -> bool:
        """The list holds more rows than were counted."""
        return self.counts_bounded and self.count > COUNT_BOUND

    @property
    def count_shown(self) -> str:
        """"1,000+" past the bound, else the count."""
        return f"{COUNT_BOUND:,}+" if self.capped else str(self.count)

    @property
    def pages_shown(self) -> str:
        """"20+" past the bound (the pages counted), else the number of pages."""
        return f"{COUNT_BOUND // self.per_page}+" if self.capped else str(self.num_pages)


def paginate(request: HttpRequest, items, *, shape: tuple | None = None) -> Page | Stretch:
    """The page asked for, numbered among the counted pages; past a capped count, newer and older only. `shape`: as
    `BoundedPaginator`'s."""
    paginator = BoundedPaginator(items, PAGE_SIZE, shape=shape)
    number = _page_number(request)
    if number > COUNT_BOUND // paginator.per_page and paginator.capped:
        return paginate_uncounted(request, items)
    return paginator.get_page(number)


def _page_number(request: HttpRequest) -> int:
    """The `page` asked for: a whole number from 1 (to 10,000), else 1."""
    try:
        return max(1, min(int(request.GET.get("page", 1)), 10_000))
    except (TypeError, ValueError):
        return 1


@dataclass
class Stretch:
    """A page of a list too long to count on every view (every live lead not yet qualified): newer and older only."""

    object_list: list
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    def previous_page_number(self) -> int:
        return self.number - 1

    def next_page_number(self) -> int:
        return self.number + 1

    def __iter__(self):
        return iter(self.object_list)


def paginate_uncounted(request: HttpRequest, items) -> Stretch:
    """The page asked for, read with one row more than it shows (to know if there is a next), never counted."""
    number = _page_number(request)
    start = (number - 1) * PAGE_SIZE
    rows = list(items[start : start + PAGE_SIZE + 1])
    return Stretch(rows[:PAGE_SIZE], number, len(rows) > PAGE_SIZE)


def paginate_by_id(request: HttpRequest, ordered, rows, *, counted: bool = True, shape: tuple | None = None
                   ) -> Page | Stretch:
    """Page through `ordered` reading ids alone (no joins, narrow rows to sort), then read that page's rows in full,
    in the same order: from `rows`, a queryset with its joins (read by those ids), or a function of the page — `ordered`
    narrowed to the page's ids, which it reads in order in one query, the ids a subquery of it — giving its rows. A
    list of 2,000 sorted by a computed deadline costs what its 50 rows cost, not what its 2,000 wide rows would. Not
    `counted`: newer and older only (a search, whose count would cost a scan of every row it might match).

    `shape`: every input `ordered` is built from (the reader's visibility, the filters chosen), given to the function
    `rows` with the bounds of the page's slice, for a query compiled once per process for each (`compiled_once`);
    None where an input cannot be told by value (a search's words), and past the counted pages (their ids are read
    first)."""
    ids_in_order = ordered.select_related(None).values_list("pk", flat=True)
    page_obj = paginate(request, ids_in_order, shape=shape) if counted else paginate_uncounted(request, ids_in_order)
    if callable(rows):
        page_shape = None
        if shape is not None and isinstance(page_obj, Page) and hasattr(page_obj.object_list, "query"):
            page_ids = page_obj.object_list.query  # a slice of the list: its bounds are in the SQL
            page_shape = (*shape, page_ids.low_mark, page_ids.high_mark)
        page_obj.object_list = rows(ordered.filter(pk__in=page_obj.object_list), page_shape)
        return page_obj
    ids = list(page_obj.object_list)
    found = rows.in_bulk(ids)
    page_obj.object_list = [found[pk] for pk in ids if pk in found]
    return page_obj


class RowLead:
    """A list row's lead: what the row shows of it, read as values (`selectors.handoffs.LIST_ROW_COLUMNS`)."""

    __slots__ = ("pk", "first_name", "last_name", "crm_id", "company", "email", "lead_source", "score")
    name = property(Lead.name.fget)
    __str__ = Lead.__str__


class ListRow:
    """A handoff as a list page's row shows it, read as values: its lead (`RowLead`), the owner's team (for the
    rules), with names the owner's (None: in the queue) and the reason's label, and its next clock (a `Clock`, None
    without one); `actions`, `deadline` and `overdue` are set by `with_row_actions` and `with_deadlines`."""

    __slots__ = ("pk", "lead_id", "sequence", "state", "owner_id", "handed_at", "team_id", "lead", "owner_name",
                 "reason", "next_clock", "actions", "deadline", "overdue")

    def get_state_display(self) -> str:
        return HandoffState(self.state).label


def handoff_rows(*, names: bool = False):
    """For `paginate_by_id`: a function of a page of handoffs (a queryset, in the list's order) and its shape giving
    its ListRows, in that order (one query)."""

    def read(page_of_handoffs, shape: tuple | None = None) -> list[ListRow]:
        found = []
        for values in handoff_list_values(page_of_handoffs, names=names, shape=shape):
            row = ListRow()
            lead = row.lead = RowLead()
            (row.pk, row.lead_id, row.sequence, row.state, row.owner_id, row.handed_at, row.team_id,
             lead.first_name, lead.last_name, lead.crm_id, lead.company, lead.email, lead.lead_source,
             lead.score) = values[:14]
            lead.pk = row.lead_id
            if names:
                first, last, username, row.reason = values[14:18]
                row.owner_name = (f"{first} {last}".strip() or username) if row.owner_id is not None else None
            row.next_clock = clock_of_row(*values[-2:])
            found.append(row)
        return found

    return read


def back_url(request: HttpRequest, fallback: str, *args) -> str:
    """Where a form came from (its `next` field), if that is a page of this site; else the fallback."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return resolve_url(fallback, *args)


def with_actions(actor: Actor, handoffs) -> list[Handoff]:
    """The handoffs, each with `.actions`: what the actor may do to it now, for its buttons."""
    rows = list(handoffs)
    for handoff in rows:
        handoff.actions = [str(action) for action in allowed_actions(actor, handoff)]
    return rows


def with_row_actions(actor: Actor, rows: list[ListRow]) -> list[ListRow]:
    """The list rows, each with `.actions`: what the actor may do to it now, decided from its ids."""
    actions = actions_reader(actor)
    for row in rows:
        row.actions = actions(row.state, row.owner_id, row.team_id)
    return rows


def person_name(user) -> str:
    return user.get_full_name() or user.get_username()


def with_deadlines(rows: list, reader=None) -> list:
    """Each handoff with `.deadline` (its next clock and its wording, or None) and `.overdue` (that clock ran out).
    List rows bring their clock: their calendars are the reference data the reader's page keeps (`reader`)."""
    now = timezone.now()
    if rows and isinstance(rows[0], ListRow):
        calendars = business_calendars(reader, clocks_ahead((row.next_clock for row in rows), now))
        due = {row.pk: (row.next_clock, wording(row.next_clock, now, calendars)) for row in rows if row.next_clock}
    else:
        due = deadlines(rows, now)
    for handoff in rows:
        handoff.deadline = due.get(handoff.pk)
        handoff.overdue = handoff.deadline is not None and handoff.deadline[0].due_at <= now
    return rows


def bulk_done_message(verb: str, handoffs: list[Handoff], tail: str = "") -> str:
    """'Accepted 2 leads (Ann Lee, Bo Chen).' — what a bulk action did, naming the leads."""
    count = len(handoffs)
    names = ", ".join(str(h.lead) for h in handoffs[:10]) + (f" and {count - 10} more" if count > 10 else "")
    return f"{verb} {count} lead{'s' if count != 1 else ''} ({names}){tail}."
