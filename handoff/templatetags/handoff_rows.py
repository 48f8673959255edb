"""What every row of a list page repeats (a handoff's state, its next deadline, its buttons, its links and times),
drawn in Python.

A list page draws 50 rows. As includes with `{% url %}` and `|date` these pieces cost about half a millisecond a row:
more than the rest of the page together (a `reverse()` alone is 20-50 µs, a `|date` 30 µs, an include 60 µs). Here a
row's pieces cost a few µs each, with the same markup the includes had.
"""
from __future__ import annotations

import functools
import html
from urllib.parse import quote

from django import template
from django.template.defaultfilters import floatformat
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import capfirst
from django.utils.translation import get_language

from handoff.models import HandoffState, MilestoneKind


def escape(value) -> SafeString:
    """Django's `escape` (the value's text with & < > " ' escaped, marked safe) without the check for lazy text its
    `keep_lazy` wrapper makes on every call: a list page calls it about 500 times, and the wrapper cost more than the
    escaping. Every value it is given here is plain data."""
    return SafeString(html.escape(str(value)))


register = template.Library()

# A stand-in id: a URL is reversed once with it, then each row's id takes its place.
_STAND_IN = 987_654_321_012_345


@functools.lru_cache(maxsize=256)
def _url_halves(urlconf, prefix: str, name: str, args: tuple) -> tuple[str, str]:
    """The URL of `name` around its id: (before, after). Keyed by the URLconf and the script prefix too: both are
    per request (a mounted app, a request's own urlconf) and part of what reverse() answers."""
    before, stand_in, after = reverse(name, urlconf=urlconf, args=[_STAND_IN, *args]).partition(str(_STAND_IN))
    assert stand_in, f"{name}: the id is not in its URL"
    return before, after


def url_with_id(name: str, pk: int, *args) -> str:
    """reverse(name, args=[pk, *args]), for a page that links every row: the same URL at a fraction of the cost."""
    before, after = _url_halves(get_urlconf(), get_script_prefix(), name, args)
    return f"{before}{int(pk)}{after}"


class _Page:
    """What every row of one page shares, looked up once per page instead of per row: the time zone, the months'
    names and the URLs' halves (each a read of a request-local, and a page of 50 rows made 1,000 of them)."""

    def __init__(self):
        self.zone = timezone.get_current_timezone()
        self.months = _months(get_language())
        self._where = (get_urlconf(), get_script_prefix())
        self._halves: dict[tuple, tuple[str, str]] = {}

    def url(self, name: str, pk: int, *args) -> str:
        """url_with_id(name, pk, *args)."""
        halves = self._halves.get((name, args))
        if halves is None:
            halves = self._halves[(name, args)] = _url_halves(*self._where, name, args)
        return f"{halves[0]}{int(pk)}{halves[1]}"

    def day_time(self, value) -> str:
        """`|date:"M j, H:i"` of an aware datetime, in the page's zone."""
        value = value.astimezone(self.zone)
        return f"{self.months[value.month]} {value.day}, {value.hour:02d}:{value.minute:02d}"


@register.simple_tag
def row_url(name: str, pk: int, *args) -> str:
    """`{% row_url 'lead_detail' lead.pk %}`: `{% url %}` for the links every row of a list repeats."""
    return url_with_id(name, pk, *args)


@functools.cache
def _months(language: str | None) -> tuple[str, ...]:
    """The months' abbreviations as `|date:"M"` writes them in this language (translated once, not per row)."""
    return ("", *(str(MONTHS_3[month]).title() for month in range(1, 13)))


@register.filter(expects_localtime=True)
def day_time(value) -> str:
    """`|date:"M j, H:i"` ("Nov 3, 09:05"), in the page's time zone."""
    if not value:
        return ""
    return f"{_months(get_language())[value.month]} {value.day}, {value.hour:02d}:{value.minute:02d}"


@register.filter(expects_localtime=True)
def iso(value) -> str:
    """`|date:"c"` (ISO 8601), in the page's time zone."""
    return value.isoformat() if value else ""


# Choice labels read (and escaped) once: a model's get_FOO_display() rebuilds its choices' dict at every call.
_CLOCK_LABELS = {kind: escape(label) for kind, label in MilestoneKind.choices}
# Each state's tag, written once: "Accepted", with its full wording on hover.
_STATE_TAGS = {
    state: format_html('<span class="state state-{}" title="{}">{}</span>', state, label, capfirst(state))
    for state, label in HandoffState.choices
}


@register.simple_tag
def handoff_state(handoff) -> str:
    """Where the handoff stands, as a coloured tag."""
    return _STATE_TAGS[handoff.state]


@register.simple_tag
def handoff_deadline(handoff) -> str:
    """The handoff's next deadline (views.common.with_deadlines): overdue in colour and in words; "—" without one."""
    return _deadline(handoff, _Page())


def _deadline(handoff, pg: _Page) -> str:
    if not handoff.deadline:
        return mark_safe('<span class="muted">—</span>')
    clock, words = handoff.deadline
    kind = _CLOCK_LABELS[clock.kind]
    # Markup-safe as they are: the clock's label is escaped, the wording is made of numbers and our words.
    title = f"{kind} due {pg.day_time(clock.due_at)} {clock.due_at.astimezone(pg.zone).tzname()}"
    if handoff.overdue:
        return mark_safe(
            f'<span class="deadline overdue" title="{title}"><strong>Overdue</strong> · {words}</span>'
            f'<div class="muted small">{kind}</div>'
        )
    return mark_safe(f'<span class="deadline" title="{title}">{words}</span><div class="muted small">{kind}</div>')


# What the reader may do to a row's handoff (handoff.actions), in the order the buttons show. A one-click action is
# a submit button of the page's one shared form (#row-action, includes/action_dialog.html); an action that asks for
# more is a link to its own page, which app.js opens in the page's one shared dialog instead. Label None: "Assign" or
# "Reassign", as the handoff has an owner or not.
_ONE_CLICK = {"accept": ("button primary", "Accept"), "convert": ("button success", "Convert")}
_IN_DIALOG = {
    "reject": ("button danger-outline", "Reject"),
    "touch": ("button", "Log touch"),
    "dispute": ("button", "Dispute"),
    "resolve": ("button primary", "Resolve"),
    "reassign": ("button", None),
    "recycle": ("button subtle", "Recycle"),
}
_ORDER = ("accept", "reject", "touch", "convert", "dispute", "resolve", "reassign", "recycle")


@register.simple_tag
def row_actions(handoff, here: str, reassign: bool = False) -> str:
    """The row's buttons (see `_actions`)."""
    return _actions(handoff, quote(here), _Page(), reassign)


def _actions(handoff, back: str, pg: _Page, reassign: bool = False) -> str:
    """The row's buttons: what the reader may do to `handoff` now. `back`: the page's address, to come back to,
    percent-encoded; `reassign`: whether the page offers (re)assigning (the team page).

    Written with f-strings: every value put in is markup-safe as it is (URLs of ids and action names, a
    percent-encoded `next` (`back`: no character of it needs escaping in HTML), constant classes and labels) but the
    lead's name, which is escaped."""
    buttons = []
    for action in _ORDER:
        if action not in handoff.actions or (action == "reassign" and not reassign):
            continue
        url = pg.url("handoff_action", handoff.pk, action)
        if action in _ONE_CLICK:
            css, label = _ONE_CLICK[action]
            confirm = ""
            if action == "convert":
                confirm = f' data-confirm="Convert {escape(handoff.lead)} to an opportunity?"'
            buttons.append(
                f'<button class="{css}" type="submit" form="row-action" formaction="{url}"{confirm}>{label}</button>'
            )
        else:
            css, label = _IN_DIALOG[action]
            label = label or ("Reassign" if handoff.owner_id else "Assign")
            buttons.append(f'<a class="{css}" href="{url}?next={back}" data-dialog="{action}">{label}</a>')
    return mark_safe('<div class="actions">\n' + "\n".join(buttons) + "\n</div>")


@register.simple_tag
def reason_select(options, selected=None) -> str:
    """The reason dropdown of a reject, dispute or recycle form: `options` the active reason codes of that kind,
    `selected` the code chosen before (a form shown again). A list page draws four: as an include with a loop they
    cost more than the page's 50 rows."""
    items = []
    for reason in options:
        note = ' data-requires-note="true"' if reason.requires_note else ""
        picked = " selected" if reason.code == selected else ""
        after = " — note required" if reason.requires_note else ""
        items.append(f'<option value="{escape(reason.code)}"{note}{picked}>{escape(reason.label)}{after}</option>')
    return mark_safe(
        '<select name="reason" required data-reason aria-label="Reason">\n'
        '  <option value="">Choose a reason…</option>\n'
        f"  {''.join(items)}\n"
        "</select>\n"
    )


@register.simple_tag
def rep_options(reps, selected=None) -> str:
    """The reps a manager may assign to, as a dropdown's options (their names escaped), the one whose id is
    `selected` (a form shown again) selected. The team page draws two such lists: looped in the template, each name
    cost three look-ups and a filter."""
    chosen = str(selected) if selected not in (None, "") else None
    return mark_safe("".join(
        f'<option value="{rep.pk}"{" selected" if chosen == str(rep.pk) else ""}>{_person(rep)}</option>'
        for rep in reps
    ))


# ---------------------------------------------------------------------------------------------
# Whole rows of the busiest lists. A row drawn by the template engine costs ~15 variable look-ups and filters
# (~0.3 ms); drawn here, a tenth of that. Every value from the database is escaped; ids, URLs, times and the
# words made here are markup-safe as they are.
# ---------------------------------------------------------------------------------------------
def _or(value, default: str) -> str:
    """`|default:` then escaped, for a cell."""
    return escape(value) if value else default


@functools.lru_cache(maxsize=4096)
def _whole(score: float) -> str:
    """`|floatformat:0`: scores repeat (0-100 mostly), and the filter's Decimal arithmetic costs 20 µs a call."""
    return floatformat(score, 0)


def _score(score) -> str:
    return _whole(score) if score is not None else ""


def _person(user) -> str:
    """`user.get_full_name|default:user.get_username`, escaped."""
    return escape(user.get_full_name() or user.get_username())


def _tick(name: str, pk: int, lead: str, ticked) -> str:
    checked = " checked" if str(pk) in ticked else ""
    return f'<input type="checkbox" name="{name}" value="{pk}" form="bulk" aria-label="Tick {lead}"{checked}>'


def _handed(handoff, pg: _Page) -> str:
    handed = handoff.handed_at.astimezone(pg.zone)
    return f'<td data-label="Handed" title="{handed.isoformat()}">{pg.day_time(handed)}</td>'


def _lead_link(lead_id: int, name: str, pg: _Page) -> str:
    return f'<a class="lead-name" href="{pg.url("lead_detail", lead_id)}">{name}</a>'


def _row_start(handoff, bulk_action: str, ticked) -> tuple:
    """What a list row starts with: the lead, its name escaped, the overdue class and the tick box (offered when the
    reader may take the list's bulk action on the row)."""
    name = escape(handoff.lead)
    overdue = ' class="is-overdue"' if handoff.overdue else ""
    tick = _tick("handoffs", handoff.pk, name, ticked) if bulk_action in handoff.actions else ""
    return handoff.lead, name, overdue, tick


def _rows(draw, items, *args) -> str:
    """The rows of a list, each drawn by `draw(item, *args, page)` with what they share looked up once."""
    pg = _Page()
    return mark_safe("\n".join(draw(item, *args, pg) for item in items))


@register.simple_tag
def rep_handoff_rows(handoffs, here: str, ticked) -> str:
    """The rows of the rep's list (my_handoffs.html): `here` the page's address, `ticked` the ids ticked before a
    failed bulk action."""
    return _rows(_rep_row, handoffs, quote(here), ticked)


def _rep_row(handoff, back: str, ticked, pg: _Page) -> str:
    """A row of the rep's list: the lead, its state, source, score, hand-over, next deadline and the rep's buttons;
    ticked again after a failed bulk action if its id is in `ticked`."""
    lead, name, overdue, tick = _row_start(handoff, "reject", ticked)
    pill = ""
    if handoff.sequence > 1:
        pill = f' <span class="pill" title="Handed over {handoff.sequence} times">#{handoff.sequence}</span>'
    about = f'{_or(lead.company, "—")} · {_or(lead.email, "no e-mail")}'
    return (
        f'<tr data-lead="{name}"{overdue}>\n'
        f'<td class="check">{tick}</td>\n'
        f'<td class="lead-cell">{_lead_link(handoff.lead_id, name, pg)}{pill}'
        f'<div class="muted small clip">{about}</div></td>\n'
        f'<td data-label="State">{_STATE_TAGS[handoff.state]}</td>\n'
        f'<td data-label="Source">{_or(lead.lead_source, "—")}</td>\n'
        f'<td data-label="Score" class="num">{_score(lead.score) or "—"}</td>\n'
        f"{_handed(handoff, pg)}\n"
        f'<td data-label="Next deadline">{_deadline(handoff, pg)}</td>\n'
        f'<td class="actions-col">{_actions(handoff, back, pg)}</td>\n'
        "</tr>"
    )


@register.simple_tag
def team_handoff_rows(handoffs, here: str, ticked) -> str:
    """The rows of the manager's list (team.html); as `rep_handoff_rows`."""
    return _rows(_team_row, handoffs, quote(here), ticked)


def _team_row(handoff, back: str, ticked, pg: _Page) -> str:
    """A row of the manager's list: the lead, its state, rep, next deadline, hand-over and reason, and the manager's
    buttons; ticked again after a failed bulk assignment if its id is in `ticked`."""
    lead, name, overdue, tick = _row_start(handoff, "reassign", ticked)
    about = _or(lead.company, "—")
    if lead.lead_source:
        about += f" · {escape(lead.lead_source)}"
    if lead.score is not None:
        about += f" · score {_score(lead.score)}"
    rep = escape(handoff.owner_name) if handoff.owner_id is not None else '<span class="tag">Queue</span>'
    return (
        f'<tr data-lead="{name}"{overdue}>\n'
        f'<td class="check">{tick}</td>\n'
        f'<td class="lead-cell">{_lead_link(handoff.lead_id, name, pg)}<div class="muted small clip">{about}</div>'
        "</td>\n"
        f'<td data-label="State">{_STATE_TAGS[handoff.state]}</td>\n'
        f'<td data-label="Rep">{rep}</td>\n'
        f'<td data-label="Next deadline">{_deadline(handoff, pg)}</td>\n'
        f"{_handed(handoff, pg)}\n"
        f'<td data-label="Reason">{_or(handoff.reason, "—")}</td>\n'
        f'<td class="actions-col">{_actions(handoff, back, pg, reassign=True)}</td>\n'
        "</tr>"
    )


@register.simple_tag
def lead_to_qualify_rows(leads, ticked) -> str:
    """The rows of the marketer's leads to qualify (leads_to_qualify.html), `ticked` the ids ticked before."""
    return _rows(_qualify_row, leads, ticked)


def _qualify_row(lead, ticked, pg: _Page) -> str:
    """A row of the leads to qualify: the lead, its source, score, owner and creation, and its Qualify button (a
    submit of the page's #row-action form); ticked again if its id is in `ticked`."""
    name = escape(lead)
    about = _or(lead.company, "—")
    if lead.title:
        about += f" · {escape(lead.title)}"
    about += f' · {_or(lead.email, "no e-mail")}'
    owner = _person(lead.owner) if lead.owner else '<span class="tag">Queue</span>'
    created = pg.day_time(lead.crm_created_at) if lead.crm_created_at else "—"
    qualify = pg.url("lead_qualify", lead.pk)
    return (
        f'<tr data-lead="{name}">\n'
        f'<td class="check">{_tick("leads", lead.pk, name, ticked)}</td>\n'
        f'<td class="lead-cell">{_lead_link(lead.pk, name, pg)}<div class="muted small clip">{about}</div></td>\n'
        f'<td data-label="Source">{_or(lead.lead_source, "—")}</td>\n'
        f'<td data-label="Score" class="num">{_score(lead.score) or "—"}</td>\n'
        f'<td data-label="Owner">{owner}</td>\n'
        f'<td data-label="Created">{created}</td>\n'
        '<td class="actions-col"><div class="actions"><button class="button primary" type="submit" form="row-action" '
        f'formaction="{qualify}">Qualify</button></div></td>\n'
        "</tr>"
    )
