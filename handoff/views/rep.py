"""The sales rep's page: what needs them now first (to accept, to touch, overdue first), the rest a filter away;
search, filters, one shared action dialog, bulk accept and bulk reject."""
from django.contrib import messages
from django.db.models import F
from django.shortcuts import redirect, render
from django.utils import timezone

from handoff.exceptions import DomainError
from handoff.forms import BulkAcceptForm, BulkRejectForm, RepListForm
from handoff.models import Role
from handoff.models.handoffs import OPEN_STATES
from handoff.selectors.handoffs import (
    REP_TO_DO_STATES,
    handoffs_matching,
    handoffs_of_rep,
    handoffs_of_segment,
    lead_sources_of,
    visibility,
)
from handoff.selectors.reference import reasons_by_kind, segment_names
from handoff.selectors.reports import my_sla, report_today
from handoff.selectors.sla import by_urgency, handoffs_breached
from handoff.services.actors import Actor
from handoff.services.handoffs import handoffs_accept, handoffs_reject

from .common import (
    bulk_done_message,
    handoff_rows,
    page,
    paginate_by_id,
    with_deadlines,
    with_row_actions,
)

BULK = {"accept": BulkAcceptForm, "reject": BulkRejectForm}


def _listed(mine, filters: RepListForm):
    """The rep's handoffs as the filters ask (to do by default), in the order chosen (most urgent first)."""
    data = filters.cleaned_data if filters.is_valid() else {}
    state = data.get("state") or RepListForm.TO_DO
    if state == RepListForm.TO_DO:
        mine = mine.filter(state__in=REP_TO_DO_STATES)
    elif state == RepListForm.OPEN:
        mine = mine.filter(state__in=OPEN_STATES)
    elif state != RepListForm.ALL:
        mine = mine.filter(state=state)
    if data.get("q"):
        mine = handoffs_matching(mine, data["q"])
    if data.get("source"):
        mine = mine.filter(lead__lead_source=data["source"])
    if data.get("segment"):
        mine = handoffs_of_segment(mine, data["segment"])
    if data.get("breached"):
        mine = handoffs_breached(mine, data["breached"] == "yes")
    sort = data.get("sort") or "urgency"
    if sort == "newest":
        return mine.order_by("-handed_at", "-id")
    if sort == "score":
        return mine.order_by(F("lead__score").desc(nulls_last=True), "-handed_at", "-id")
    # Most urgent first: the most overdue deadline, then the soonest, then handoffs with no clock running.
    return by_urgency(mine)


def _shape(user, filters: RepListForm) -> tuple | None:
    """Every input of `_listed` for this reader, as a value (None: a search's words or a segment's rules, read as
    built)."""
    data = filters.cleaned_data if filters.is_valid() else {}
    if data.get("q") or data.get("segment"):
        return None
    return ("rep", visibility(user), user.pk, data.get("state") or RepListForm.TO_DO, data.get("source") or "",
            data.get("breached") or "", data.get("sort") or "urgency")


def _bulk(request, mine):
    """POST: accept or reject the ticked handoffs, all or none. Returns (form, status, done)."""
    op = request.POST.get("op") or "reject"
    form_class = BULK.get(op, BulkRejectForm)
    form = form_class(request.POST, handoff_ids=list(mine.filter(state__in=OPEN_STATES).values_list("pk", flat=True)))
    if not form.is_valid():
        for error in form.errors.get("handoffs", []):
            messages.error(request, f"Nothing was {form.verb}ed. {error}")
        return form, 400, False
    actor = Actor.person(request.user)
    data = form.cleaned_data
    try:
        if form_class is BulkAcceptForm:
            done = handoffs_accept(handoffs=data["handoffs"], actor=actor, note=data["note"])
            messages.success(request, bulk_done_message("Accepted", done))
        else:
            done = handoffs_reject(handoffs=data["handoffs"], actor=actor, reason=data["reason"], note=data["note"])
            messages.success(request, bulk_done_message("Rejected", done, f": {data['reason'].label}"))
    except DomainError as exc:
        if exc.field in form.fields and exc.field != "handoffs":
            form.add_error(exc.field, exc.message)
            return form, exc.status, False
        messages.error(request, f"Nothing was {form.verb}ed. {exc.message}")
        return form, exc.status, False
    return form, 200, True


@page(Role.SALES_REP)
def my_handoffs(request):
    """GET lists the rep's handoffs; POST accepts or rejects the ticked ones (`op`), all or none."""
    mine = handoffs_of_rep(request.user, open_only=False).select_related("owner__profile")
    query = request.GET.copy()
    if query.get("show") == "all" and not query.get("state"):  # the former "All" tab's address
        query["state"] = RepListForm.ALL
    filters = RepListForm(query, sources=lead_sources_of(request.user), segments=segment_names(request.user))
    status, bulk = 200, None
    if request.method == "POST":
        bulk, status, done = _bulk(request, mine)
        if done:
            return redirect(request.get_full_path())
    page_obj = paginate_by_id(request, _listed(mine, filters), handoff_rows(), shape=_shape(request.user, filters))
    rows = with_row_actions(Actor.person(request.user), page_obj.object_list)
    page_obj.object_list = with_deadlines(rows, request.user)
    ticked = {str(pk) for pk in request.POST.getlist("handoffs")} if bulk is not None else set()
    data = filters.cleaned_data if filters.is_valid() else {}
    context = {
        "my_sla": my_sla(user=request.user, today=report_today(timezone.now())),
        "page_obj": page_obj,
        "reasons": reasons_by_kind(request.user),
        "bulk": bulk if isinstance(bulk, BulkRejectForm) else BulkRejectForm(handoff_ids=[]),
        "bulk_note": bulk["note"].value() if bulk is not None else "",
        "ticked": ticked,
        "filters": filters,
        "state": data.get("state") or RepListForm.TO_DO,
        "filtered": any(data.get(name) for name in ("q", "source", "segment", "breached")),
    }
    return render(request, "handoff/my_handoffs.html", context, status=status)
