"""What every row of a list page repeats (a handoff's state, its next deadline, its buttons, its links and times),
drawn in Python.

A list page draws 50 rows. As includes with `{% url %}` and `|date` these pieces cost about half a millisecond a row:
more than the rest of the page together (a `reverse()` alone is 20-50 µs, a `|date` 30 µs, an include 60 µs). Here a
row's pieces cost a few µs each, with the same markup the includes had.
"""
from __future__ import annotations

import functools
from urllib.parse import quote

from django import template
from django.template.defaultfilters import floatformat
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.dates import MONTHS_3
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.text import capfirst
from django.utils.timezone import localtime

from handoff.models import HandoffState, MilestoneKind

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


@register.simple_tag
def row_url(name: str, pk: int, *args) -> str:
    """`{% row_url 'lead_detail' lead.pk %}`: `{% url %}` for the links every row of a list repeats."""
    return url_with_id(name, pk, *args)


@register.filter(expects_localtime=True)
def day_time(value) -> str:
    """`|date:"M j, H:i"` ("Nov 3, 09:05"), in the page's time zone."""
    if not value:
        return ""
    return f"{MONTHS_3[value.month].title()} {value.day}, {value.hour:02d}:{value.minute:02d}"


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
    if not handoff.deadline:
        return mark_safe('<span class="muted">—</span>')
    clock, words = handoff.deadline
    kind = _CLOCK_LABELS[clock.kind]
    due = localtime(clock.due_at)  # in the page's zone, as |date shows it
    # Markup-safe as they are: the clock's label is escaped, the wording is made of numbers and our words.
    title = f"{kind} due {day_time(due)} {due.tzname()}"
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
    """The row's buttons: what the reader may do to `handoff` now. `here`: the page's address, to come back to;
    `reassign`: whether the page offers (re)assigning (the team page).

    Written with f-strings: every value put in is markup-safe as it is (URLs of ids and action names, a
    percent-encoded `next`, constant classes and labels) but the lead's name, which is escaped."""
    back = quote(here)  # percent-encoded: no character of it needs escaping in HTML
    buttons = []
    for action in _ORDER:
        if action not in handoff.actions or (action == "reassign" and not reassign):
            continue
        url = url_with_id("handoff_action", handoff.pk, action)
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


# ---------------------------------------------------------------------------------------------
# Whole rows of the busiest lists. A row drawn by the template engine costs ~15 variable look-ups and filters
# (~0.3 ms); drawn here, a tenth of that. Every value from the database is escaped; ids, URLs, times and the
# words made here are markup-safe as they are.
# ---------------------------------------------------------------------------------------------
def _or(value, default: str) -> str:
    """`|default:` then escaped, for a cell."""
    return escape(value) if value else default


def _score(score) -> str:
    return floatformat(score, 0) if score is not None else ""


def _person(user) -> str:
    """`user.get_full_name|default:user.get_username`, escaped."""
    return escape(user.get_full_name() or user.get_username())


def _tick(name: str, pk: int, lead: str, ticked) -> str:
    checked = " checked" if str(pk) in ticked else ""
    return f'<input type="checkbox" name="{name}" value="{pk}" form="bulk" aria-label="Tick {lead}"{checked}>'


def _handed(handoff) -> str:
    handed = localtime(handoff.handed_at)
    return f'<td data-label="Handed" title="{iso(handed)}">{day_time(handed)}</td>'


def _lead_link(lead_id: int, name: str) -> str:
    return f'<a class="lead-name" href="{url_with_id("lead_detail", lead_id)}">{name}</a>'


def _row_start(handoff, bulk_action: str, ticked) -> tuple:
    """What a list row starts with: the lead, its name escaped, the overdue class and the tick box (offered when the
    reader may take the list's bulk action on the row)."""
    name = escape(handoff.lead)
    overdue = ' class="is-overdue"' if handoff.overdue else ""
    tick = _tick("handoffs", handoff.pk, name, ticked) if bulk_action in handoff.actions else ""
    return handoff.lead, name, overdue, tick


@register.simple_tag
def rep_handoff_row(handoff, here: str, ticked) -> str:
    """A row of the rep's list (my_handoffs.html): the lead, its state, source, score, hand-over, next deadline and
    the rep's buttons; ticked again after a failed bulk action if its id is in `ticked`."""
    lead, name, overdue, tick = _row_start(handoff, "reject", ticked)
    pill = ""
    if handoff.sequence > 1:
        pill = f' <span class="pill" title="Handed over {handoff.sequence} times">#{handoff.sequence}</span>'
    about = f'{_or(lead.company, "—")} · {_or(lead.email, "no e-mail")}'
    return mark_safe(
        f'<tr data-lead="{name}"{overdue}>\n'
        f'<td class="check">{tick}</td>\n'
        f'<td class="lead-cell">{_lead_link(handoff.lead_id, name)}{pill}'
        f'<div class="muted small clip">{about}</div></td>\n'
        f'<td data-label="State">{handoff_state(handoff)}</td>\n'
        f'<td data-label="Source">{_or(lead.lead_source, "—")}</td>\n'
        f'<td data-label="Score" class="num">{_score(lead.score) or "—"}</td>\n'
        f"{_handed(handoff)}\n"
        f'<td data-label="Next deadline">{handoff_deadline(handoff)}</td>\n'
        f'<td class="actions-col">{row_actions(handoff, here)}</td>\n'
        "</tr>"
    )


@register.simple_tag
def team_handoff_row(handoff, here: str, ticked) -> str:
    """A row of the manager's list (team.html): the lead, its state, rep, next deadline, hand-over and reason, and
    the manager's buttons; ticked again after a failed bulk assignment if its id is in `ticked`."""
    lead, name, overdue, tick = _row_start(handoff, "reassign", ticked)
    about = _or(lead.company, "—")
    if lead.lead_source:
        about += f" · {escape(lead.lead_source)}"
    if lead.score is not None:
        about += f" · score {_score(lead.score)}"
    rep = _person(handoff.owner) if handoff.owner else '<span class="tag">Queue</span>'
    return mark_safe(
        f'<tr data-lead="{name}"{overdue}>\n'
        f'<td class="check">{tick}</td>\n'
        f'<td class="lead-cell">{_lead_link(handoff.lead_id, name)}<div class="muted small clip">{about}</div></td>\n'
        f'<td data-label="State">{handoff_state(handoff)}</td>\n'
        f'<td data-label="Rep">{rep}</td>\n'
        f'<td data-label="Next deadline">{handoff_deadline(handoff)}</td>\n'
        f"{_handed(handoff)}\n"
        f'<td data-label="Reason">{_or(handoff.reason, "—")}</td>\n'
        f'<td class="actions-col">{row_actions(handoff, here, reassign=True)}</td>\n'
        "</tr>"
    )


@register.simple_tag
def lead_to_qualify_row(lead, ticked) -> str:
    """A row of the marketer's leads to qualify (leads_to_qualify.html): the lead, its source, score, owner and
    creation, and its Qualify button (a submit of the page's #row-action form); ticked again if its id is in
    `ticked`."""
    name = escape(lead)
    about = _or(lead.company, "—")
    if lead.title:
        about += f" · {escape(lead.title)}"
    about += f' · {_or(lead.email, "no e-mail")}'
    owner = _person(lead.owner) if lead.owner else '<span class="tag">Queue</span>'
    created = day_time(localtime(lead.crm_created_at)) if lead.crm_created_at else "—"
    qualify = url_with_id("lead_qualify", lead.pk)
    return mark_safe(
        f'<tr data-lead="{name}">\n'
        f'<td class="check">{_tick("leads", lead.pk, name, ticked)}</td>\n'
        f'<td class="lead-cell">{_lead_link(lead.pk, name)}<div class="muted small clip">{about}</div></td>\n'
        f'<td data-label="Source">{_or(lead.lead_source, "—")}</td>\n'
        f'<td data-label="Score" class="num">{_score(lead.score) or "—"}</td>\n'
        f'<td data-label="Owner">{owner}</td>\n'
        f'<td data-label="Created">{created}</td>\n'
        '<td class="actions-col"><div class="actions"><button class="button primary" type="submit" form="row-action" '
        f'formaction="{qualify}">Qualify</button></div></td>\n'
        "</tr>"
    )
