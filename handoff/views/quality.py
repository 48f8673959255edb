"""Marketing's "Lead quality": what sales said about the leads handed over in a period, and the feedback behind
every figure of it."""
from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from django.db.models import Q
from django.shortcuts import render
from django.utils import timezone

from handoff.forms import QualityFilterForm, QualityPeriodForm
from handoff.models import FeedbackOutcome, LeadDefinition, ReasonCode, Role
from handoff.models.feedback import RATING_LABELS
from handoff.selectors.quality import QualityFilter, lead_quality, quality_requests, report_day, report_zone

from .common import page, paginate

DEFAULT_WEEKS = 13  # this week and the twelve before it
PRESETS = ((4, "4 weeks"), (13, "13 weeks"), (26, "26 weeks"), (52, "52 weeks"))


def _weeks_back(today: date, weeks: int) -> date:
    """The Monday `weeks - 1` weeks before this week's: a period of `weeks` whole weeks up to today."""
    return today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)


def _today() -> date:
    return report_day(timezone.now())


def _period(form) -> tuple[date, date]:
    today = _today()
    data = form.cleaned_data if form.is_valid() else {}
    end = data.get("end") or today
    start = data.get("start") or _weeks_back(end, DEFAULT_WEEKS)
    return start, end


@page(Role.MARKETER)
def lead_quality_page(request):
    form = QualityPeriodForm(request.GET)
    start, end = _period(form)
    today = _today()
    presets = [(label, _weeks_back(today, weeks), today) for weeks, label in PRESETS]
    report = lead_quality(start=start, end=end)
    context = {
        "form": form,
        "report": report,
        "start": start,
        "end": end,
        "period": urlencode({"start": start.isoformat(), "end": end.isoformat()}),
        "presets": presets,
        "zone": report_zone(),
        "ratings": RATING_LABELS,
        "breakdowns": [
            ("By lead source", "source", report.by_source),
            ("By SLA segment", "segment", report.by_segment),
            ("By lead definition version", "definition", report.by_definition),
            ("By week handed over", "week", report.by_week),
        ],
    }
    return render(request, "handoff/lead_quality.html", context, status=200 if form.is_valid() else 400)


def _present(request, name: str, value):
    """A filter given in the query string, even empty ("source=" is the leads without a source); None when absent."""
    return value if name in request.GET else None


@page(Role.MARKETER)
def quality_feedback_page(request):
    """The requests and feedback behind one figure of the lead quality report."""
    form = QualityFilterForm(request.GET)
    valid = form.is_valid()
    start, end = _period(form)
    data = form.cleaned_data if valid else {}
    selected = QualityFilter(
        start=start,
        end=end,
        source=_present(request, "source", data.get("source", "")),
        segment=_present(request, "segment", data.get("segment", "")),
        definition=data.get("definition"),
        week=data.get("week"),
        rating=data.get("rating"),
        reason=data.get("reason") or None,
        reject_reason=data.get("reject_reason") or None,
        outcome=data.get("outcome") or None,
    )
    requests = quality_requests(selected) if valid else []
    page_obj = paginate(request, requests)
    context = {
        "form": form,
        "selected": selected,
        "described": _described(selected),
        "page_obj": page_obj,
        "ratings": RATING_LABELS,
    }
    return render(request, "handoff/quality_feedback.html", context, status=200 if valid else 400)


def _described(selected: QualityFilter) -> list[tuple[str, str]]:
    """The filters of the list in words, for its heading."""
    labels = dict(
        ReasonCode.objects.filter(
            Q(kind=ReasonCode.Kind.FEEDBACK, code=selected.reason or "")
            | Q(kind=ReasonCode.Kind.REJECT, code=selected.reject_reason or "")
        ).values_list("kind", "label")
    )
    found = []
    if selected.source is not None:
        found.append(("source", selected.source or "none"))
    if selected.segment is not None:
        found.append(("SLA segment", selected.segment or "none"))
    if selected.definition is not None:
        definition = LeadDefinition.objects.filter(version=selected.definition).first()
        found.append(("definition", str(definition) if definition else f"v{selected.definition}"))
    if selected.week is not None:
        found.append(("week of", f"{selected.week:%b} {selected.week.day}"))
    if selected.rating is not None:
        found.append(("rated", f"{selected.rating} ({RATING_LABELS[selected.rating].lower()})"))
    if selected.reason:
        found.append(("reason", labels.get(ReasonCode.Kind.FEEDBACK, selected.reason)))
    if selected.reject_reason:
        found.append(("rejected as", labels.get(ReasonCode.Kind.REJECT, selected.reject_reason)))
    if selected.outcome:
        found.append(("", dict(FeedbackOutcome.choices)[selected.outcome].lower()))
    return found
