"""The rows of the list pages, drawn in Python (handoff/templatetags/handoff_rows.py) for speed: the same links, times
and markup the template engine drew, with everything from the CRM escaped."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context, Template
from django.urls import reverse, set_script_prefix
from django.utils import timezone

from handoff.models import Milestone
from handoff.services.handoffs import handoff_accept, handoff_qualify, handoff_reject
from handoff.templatetags.handoff_rows import url_with_id
from handoff.views.common import user_time_zone
from tests.factories import make_lead

# The rep's row as my_handoffs.html drew it with the template engine, its includes written in.
ENGINE_ROW = """{% load handoff_rows %}
<tr data-lead="{{ handoff.lead }}"{% if handoff.overdue %} class="is-overdue"{% endif %}>
<td class="check">{% if "reject" in handoff.actions %}<input type="checkbox" name="handoffs" value="{{ handoff.pk }}" form="bulk" aria-label="Tick {{ handoff.lead }}"{% if handoff.pk|stringformat:"d" in ticked %} checked{% endif %}>{% endif %}</td>
<td class="lead-cell"><a class="lead-name" href="{% url 'lead_detail' handoff.lead_id %}">{{ handoff.lead }}</a>{% if handoff.sequence > 1 %} <span class="pill" title="Handed over {{ handoff.sequence }} times">#{{ handoff.sequence }}</span>{% endif %}<div class="muted small clip">{{ handoff.lead.company|default:"—" }} · {{ handoff.lead.email|default:"no e-mail" }}</div></td>
<td data-label="State"><span class="state state-{{ handoff.state }}" title="{{ handoff.get_state_display }}">{{ handoff.state|capfirst }}</span></td>
<td data-label="Source">{{ handoff.lead.lead_source|default:"—" }}</td>
<td data-label="Score" class="num">{{ handoff.lead.score|floatformat:0|default:"—" }}</td>
<td data-label="Handed" title="{{ handoff.handed_at|date:'c' }}">{{ handoff.handed_at|date:"M j, H:i" }}</td>
<td data-label="Next deadline">{% if handoff.deadline %}{% with clock=handoff.deadline.0 %}<span class="deadline{% if handoff.overdue %} overdue{% endif %}" title="{{ clock.get_kind_display }} due {{ clock.due_at|date:'M j, H:i T' }}">{% if handoff.overdue %}<strong>Overdue</strong> · {% endif %}{{ handoff.deadline.1 }}</span><div class="muted small">{{ clock.get_kind_display }}</div>{% endwith %}{% else %}<span class="muted">—</span>{% endif %}</td>
<td class="actions-col"><div class="actions">
{% if "accept" in handoff.actions %}<button class="button primary" type="submit" form="row-action" formaction="{% url 'handoff_action' handoff.pk 'accept' %}">Accept</button>{% endif %}
{% if "reject" in handoff.actions %}<a class="button danger-outline" href="{% url 'handoff_action' handoff.pk 'reject' %}?next={{ here|urlencode }}" data-dialog="reject">Reject</a>{% endif %}
{% if "touch" in handoff.actions %}<a class="button" href="{% url 'handoff_action' handoff.pk 'touch' %}?next={{ here|urlencode }}" data-dialog="touch">Log touch</a>{% endif %}
{% if "convert" in handoff.actions %}<button class="button success" type="submit" form="row-action" formaction="{% url 'handoff_action' handoff.pk 'convert' %}" data-confirm="Convert {{ handoff.lead }} to an opportunity?">Convert</button>{% endif %}
{% if "recycle" in handoff.actions %}<a class="button subtle" href="{% url 'handoff_action' handoff.pk 'recycle' %}?next={{ here|urlencode }}" data-dialog="recycle">Recycle</a>{% endif %}
</div></td>
</tr>"""  # noqa: E501


def _same(html: str) -> str:
    """Markup as a browser reads it: runs of white space between and inside tags count as one."""
    return re.sub(r"\s+", " ", re.sub(r">\s+<", "><", html)).strip()


def test_a_row_link_is_the_url_reverse_gives_under_any_script_prefix():
    try:
        for prefix in ("/", "/crm/"):
            set_script_prefix(prefix)
            assert url_with_id("lead_detail", 42) == reverse("lead_detail", args=[42])
            assert url_with_id("lead_qualify", 7) == reverse("lead_qualify", args=[7])
            for action in ("accept", "reject", "reassign"):
                assert url_with_id("handoff_action", 9, action) == reverse("handoff_action", args=[9, action])
        assert url_with_id("lead_detail", 42) == "/crm/leads/42/"
    finally:
        set_script_prefix("/")


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata", "UTC"])
def test_the_row_times_read_as_the_date_filter_writes_them(zone):
    both = Template('{% load handoff_rows %}{{ d|day_time }}|{{ d|date:"M j, H:i" }}|{{ d|iso }}|{{ d|date:"c" }}')
    moments = [
        datetime(2026, 3, 8, 6, 59, tzinfo=UTC),  # New York's spring forward
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 0, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 5, 9, 123456, tzinfo=UTC),
    ]
    with timezone.override(zone):
        for moment in moments:
            fast, engine, fast_iso, engine_iso = both.render(Context({"d": moment})).split("|")
            assert (fast, fast_iso) == (engine, engine_iso)
        assert Template("{% load handoff_rows %}[{{ d|day_time }}]").render(Context({"d": None})) == "[]"


@pytest.mark.django_db
def test_the_rep_row_is_the_markup_the_template_engine_drew(cast, browser):
    marketer, rep = cast.actor("marketer"), cast.actor("rep")
    waiting = handoff_qualify(lead=make_lead(owner=cast.rep, first_name='Ann "A&B"', score=41.5), actor=marketer)
    accepted = handoff_accept(
        handoff=handoff_qualify(lead=make_lead(owner=cast.rep, company="", email="", lead_source=""), actor=marketer),
        actor=rep,
    )
    late = handoff_qualify(lead=make_lead(owner=cast.rep, first_name="Late"), actor=marketer)
    Milestone.objects.filter(handoff=late).update(due_at=timezone.now() - timedelta(hours=3))
    again = handoff_reject(
        handoff=handoff_qualify(lead=make_lead(owner=cast.rep), actor=marketer), actor=rep, reason="student"
    )
    assert again.state == "rejected"

    page = browser("rep").get(reverse("my_handoffs"), {"state": "all"})

    assert page.status_code == 200
    rows = list(page.context["page_obj"])
    assert {h.pk for h in rows} >= {waiting.pk, accepted.pk, late.pk, again.pk}
    assert any(h.overdue for h in rows) and any("convert" in h.actions for h in rows)
    engine, here, shown = Template(ENGINE_ROW), reverse("my_handoffs") + "?state=all", _same(page.text)
    with timezone.override(user_time_zone(cast.rep)):
        for handoff in rows:
            drawn = _same(engine.render(Context({"handoff": handoff, "here": here, "ticked": set()})))
            assert drawn in shown, drawn


@pytest.mark.django_db
def test_what_the_crm_sends_is_escaped_in_every_list_row(cast, browser):
    bold = {"first_name": "<b>Bold</b>", "company": '"Quotes" & Co', "lead_source": "<i>src</i>"}
    handoff_qualify(lead=make_lead(owner=cast.rep, **bold), actor=cast.actor("marketer"))
    queued = handoff_qualify(lead=make_lead(owner=None, **bold), actor=cast.actor("marketer"))
    assert queued.owner_id is None
    make_lead(owner=cast.rep, title="<script>x</script>", **bold)

    pages = [
        browser("rep").get(reverse("my_handoffs")).text,
        browser("manager").get(reverse("team_handoffs")).text,
        browser("marketer").get(reverse("leads_to_qualify")).text,
    ]

    for text in pages:
        assert "<b>Bold" not in text and "<i>src" not in text and "<script>x" not in text
        assert "&lt;b&gt;Bold&lt;/b&gt;" in text
        assert "&quot;Quotes&quot; &amp; Co" in text
    assert 'data-lead="&lt;b&gt;Bold&lt;/b&gt;' in pages[1]
    assert "&lt;script&gt;x&lt;/script&gt;" in pages[2]


# The reason dropdown as the include (handoff/includes/reason_select.html) drew it.
ENGINE_REASON_SELECT = """<select name="reason" required data-reason aria-label="Reason">
  <option value="">Choose a reason…</option>
  {% for reason in options %}<option value="{{ reason.code }}"{% if reason.requires_note %} data-requires-note="true"{% endif %}{% if reason.code == selected %} selected{% endif %}>{{ reason.label }}{% if reason.requires_note %} — note required{% endif %}</option>{% endfor %}
</select>
"""  # noqa: E501


@pytest.mark.django_db
@pytest.mark.parametrize("selected", [None, "", "student", "other"])
def test_the_reason_dropdown_is_the_markup_the_include_drew(selected):
    from handoff.models import ReasonCode
    from handoff.selectors.reference import reasons_by_kind

    ReasonCode.objects.create(kind="reject", code="odd", label='<b>"Odd" & co</b>', requires_note=True)
    options = reasons_by_kind()["reject"]
    assert len(options) > 2 and any(r.requires_note for r in options)
    context = Context({"options": options, "selected": selected})

    drawn = Template("{% load handoff_rows %}{% reason_select options selected %}").render(context)

    assert drawn == Template(ENGINE_REASON_SELECT).render(context)
    assert "&lt;b&gt;&quot;Odd&quot; &amp; co&lt;/b&gt; — note required" in drawn
    assert (" selected>" in drawn) == (selected in {r.code for r in options})


# The reps' options as team.html and the action dialog looped them.
ENGINE_REP_OPTIONS = """{% for rep in reps %}<option value="{{ rep.pk }}"{% if chosen == rep.pk|stringformat:"d" %} selected{% endif %}>{{ rep.get_full_name|default:rep.get_username }}</option>{% endfor %}"""  # noqa: E501


@pytest.mark.django_db
@pytest.mark.parametrize("chosen", [None, "", "rep", "queue", "999999"])
def test_the_reps_options_are_the_markup_the_loop_drew(cast, chosen):
    from handoff.models import Role
    from handoff.selectors.people import reps_managed_by
    from tests.factories import make_user

    make_user("<b>x</b>", Role.SALES_REP, team=cast.team, first_name='Ann "A&B"', last_name="<i>")
    reps = list(reps_managed_by(cast.manager))
    assert len(reps) == 2
    chosen = str(cast.rep.pk) if chosen == "rep" else chosen
    context = Context({"reps": reps, "chosen": chosen})

    drawn = Template("{% load handoff_rows %}{% rep_options reps chosen %}").render(context)

    assert drawn == Template(ENGINE_REP_OPTIONS).render(context)
    assert "Ann &quot;A&amp;B&quot; &lt;i&gt;" in drawn and "<i>" not in drawn
    assert (" selected>" in drawn) == (chosen == str(cast.rep.pk))
