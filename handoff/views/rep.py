"""The sales rep's page: my handoffs, with an action per row and a bulk reject."""
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone

from handoff.exceptions import DomainError
from handoff.forms import BulkRejectForm
from handoff.models import Role
from handoff.selectors.handoffs import handoffs_of_rep
from handoff.selectors.reports import my_sla, report_today
from handoff.selectors.sla import by_urgency, deadlines
from handoff.services.actors import Actor
from handoff.services.handoffs import handoffs_reject

from .common import page, paginate, reasons_by_kind, with_actions


@page(Role.SALES_REP)
def my_handoffs(request):
    """GET lists the rep's handoffs, most urgent first; POST rejects the ticked ones with one reason, all or none."""
    show_all = request.GET.get("show") == "all"
    # Most urgent first: the most overdue deadline, then the soonest, then handoffs with no clock running.
    handoffs = by_urgency(handoffs_of_rep(request.user, open_only=not show_all)).select_related("owner__profile")
    status = 200
    form = None
    if request.method == "POST":
        form = BulkRejectForm(request.POST, handoff_ids=list(handoffs.values_list("pk", flat=True)))
        if form.is_valid():
            try:
                rejected = handoffs_reject(
                    handoffs=form.cleaned_data["handoffs"],
                    actor=Actor.person(request.user),
                    reason=form.cleaned_data["reason"],
                    note=form.cleaned_data["note"],
                )
            except DomainError as exc:
                if exc.field in form.fields:
                    form.add_error(exc.field, exc.message)
                else:
                    messages.error(request, f"Nothing was rejected. {exc.message}")
                    status = exc.status
            else:
                names = ", ".join(str(h.lead) for h in rejected)
                messages.success(
                    request,
                    f"Rejected {len(rejected)} lead{'s' if len(rejected) != 1 else ''} "
                    f"({names}): {form.cleaned_data['reason'].label}.",
                )
                return redirect(request.get_full_path())
        for error in form.errors.get("handoffs", []):
            messages.error(request, f"Nothing was rejected. {error}")
        status = status if status != 200 else 400
    page_obj = paginate(request, handoffs)
    page_obj.object_list = with_actions(Actor.person(request.user), page_obj.object_list)
    due = deadlines(page_obj.object_list)
    for handoff in page_obj.object_list:
        handoff.deadline = due.get(handoff.pk)
    ticked = {str(pk) for pk in request.POST.getlist("handoffs")} if form is not None else set()
    context = {
        "my_sla": my_sla(user=request.user, today=report_today(timezone.now())),
        "page_obj": page_obj,
        "reasons": reasons_by_kind(),
        "bulk": form or BulkRejectForm(handoff_ids=[]),
        "ticked": ticked,
        "show_all": show_all,
    }
    return render(request, "handoff/my_handoffs.html", context, status=status)
