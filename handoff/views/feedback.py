"""Sales feedback pages: the rep's "Feedback to give", one request (its form, or its feedback and history), and the
page a one-click rating link of the digest opens.

A link's page is the only page that needs no sign-in: its signed token names the rater, the request and the rating.
Opening it (GET) never writes, since mail scanners open links; its one button saves.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from handoff.exceptions import DomainError
from handoff.forms import FeedbackForm
from handoff.models import FeedbackOutcome, FeedbackPoint, FeedbackRequest, Role
from handoff.models.feedback import RATING_LABELS, Via
from handoff.selectors.feedback import (
    answerable,
    change_deadline,
    feedback_changeable,
    feedback_reasons,
    feedback_requests_visible_to,
    feedback_revision,
    feedback_to_give,
    with_feedback_detail,
)
from handoff.services.actors import Actor
from handoff.services.feedback import (
    LinkInvalid,
    feedback_link_read,
    feedback_link_token,
    lead_feedback_give,
)

from .common import back_url, page, person_name


@dataclass
class Row:
    """One request on a page, with the form its rater answers it with."""

    request: FeedbackRequest
    form: FeedbackForm
    reasons: list
    deadline: object = None


def reasons_for(request: FeedbackRequest, catalogue: dict | None = None) -> list:
    """What the form offers: the active reasons the request allows, and any its feedback already has. `catalogue`,
    shared by a page's rows, reads each of the two reason lists once for the page, not once per row."""
    reject_point = request.point == FeedbackPoint.REJECTED
    if catalogue is None:
        offered = feedback_reasons(reject_point=reject_point)
    else:
        if reject_point not in catalogue:
            catalogue[reject_point] = feedback_reasons(reject_point=reject_point)
        offered = list(catalogue[reject_point])
    feedback = getattr(request, "feedback", None)
    if feedback is not None:
        have = {reason.code for reason in offered}
        offered += [reason for reason in feedback.reasons.all() if reason.code not in have]
    return sorted(offered, key=lambda reason: (reason.is_market_signal, reason.label))


def _initial(request: FeedbackRequest) -> dict:
    feedback = getattr(request, "feedback", None)
    if feedback is None:
        return {"revision": 0}
    return {
        "rating": feedback.rating,
        "reasons": [reason.code for reason in feedback.reasons.all()],
        "note": feedback.note,
        "revision": feedback.revision,
    }


def row_for(request: FeedbackRequest, data=None, *, rating: bool = True, catalogue: dict | None = None) -> Row:
    reasons = reasons_for(request, catalogue)
    form = FeedbackForm(data, reasons=reasons, rating=rating, initial=_initial(request), prefix=f"r{request.pk}")
    feedback = getattr(request, "feedback", None)
    return Row(request, form, reasons, change_deadline(feedback) if feedback is not None else None)


def give(row: Row, *, actor: Actor, via: str, rating: int | None = None, revision: int | None = None) -> tuple:
    """Save the row's bound form through the service: (the feedback, 200), or (None, the status of what went wrong),
    the problem shown next to its field or above the form."""
    form = row.form
    if not form.is_valid():
        return None, 400
    data = form.cleaned_data
    try:
        feedback = lead_feedback_give(
            request=row.request,
            actor=actor,
            rating=rating if rating is not None else data["rating"],
            reasons=data["reasons"],
            note=data["note"],
            via=via,
            revision=revision if revision is not None else data.get("revision"),
        )
    except DomainError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return None, exc.status
    return feedback, 200


def _saved_text(request: FeedbackRequest, feedback) -> str:
    return f"Rated {request.handoff.lead} {feedback.rating}/5 ({RATING_LABELS[feedback.rating].lower()}). Thank you."


@page(Role.SALES_REP)
def feedback_to_give_page(request):
    """The rep's pending requests, oldest first, and the feedback they may still change; each rates in one click."""
    actor = Actor.person(request.user)
    status = 200
    pending = list(feedback_to_give(request.user))
    changeable = list(feedback_changeable(request.user))
    catalogue: dict = {}
    rows = {r.pk: row_for(r, catalogue=catalogue) for r in [*pending, *changeable]}
    if request.method == "POST":
        asked = request.POST.get("request", "")
        if not asked.isdigit():
            raise Http404("No such feedback request.")
        target = get_object_or_404(with_feedback_detail(feedback_requests_visible_to(request.user)), pk=int(asked))
        row = rows[target.pk] = row_for(target, request.POST, catalogue=catalogue)
        feedback, status = give(row, actor=actor, via=Via.APP)
        if feedback is not None:
            messages.success(request, _saved_text(target, feedback))
            return redirect(back_url(request, "feedback_to_give"))
        if target.pk not in {r.pk for r in [*pending, *changeable]}:  # no longer on the page: say why up top
            for error in row.form.errors.values():
                messages.error(request, f"Nothing was saved for {target.handoff.lead}: {error[0]}")
    context = {
        "pending": [rows[r.pk] for r in pending if r.pk in rows],
        "changeable": [rows[r.pk] for r in changeable if r.pk in rows],
        "ratings": RATING_LABELS,
        "now": timezone.now(),
    }
    return render(request, "handoff/feedback_to_give.html", context, status=status)


@page()
def feedback_request_page(request, pk: int):
    """One request: its rater answers or changes it here; whoever may read it sees the feedback and its history."""
    target = get_object_or_404(with_feedback_detail(feedback_requests_visible_to(request.user)), pk=pk)
    is_rater = target.rater_id == request.user.pk
    row = row_for(target, request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        feedback, status = give(row, actor=Actor.person(request.user), via=Via.APP)
        if feedback is not None:
            messages.success(request, _saved_text(target, feedback))
            return redirect(back_url(request, "feedback_request", target.pk))
    can_answer = is_rater and answerable(target)
    if not can_answer:  # no form on the page to show a refusal next to
        for error in row.form.non_field_errors():
            messages.error(request, error)
    context = {
        "row": row,
        "target": target,
        "feedback": getattr(target, "feedback", None),
        "is_rater": is_rater,
        "can_answer": can_answer,
        "ratings": RATING_LABELS,
        "next": back_url(request, "feedback_request", target.pk),
    }
    return render(request, "handoff/feedback_request.html", context, status=status)


# ---------------------------------------------------------------------------------------------
# The one-click link
# ---------------------------------------------------------------------------------------------
PROBLEMS = {
    # problem: (HTTP status, title)
    "invalid": (400, "This link does not work"),
    "expired": (410, "This link has expired"),
    "not_yours": (403, "This link is for someone else"),
    "superseded": (409, "You have already rated this lead"),
    "closed": (410, "This question is closed"),
}


def _problem(http: HttpRequest, problem: str, **context) -> HttpResponse:
    status, title = PROBLEMS[problem]
    context.update(problem=problem, title=title, ratings=RATING_LABELS)
    return render(http, "handoff/feedback_link_problem.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def feedback_link(request, token: str):
    """A digest's one-click rating: the page with that rating chosen, reasons and a note to add, one button to save."""
    try:
        claim = feedback_link_read(token)
    except LinkInvalid as exc:
        return _problem(request, exc.reason)
    target = (
        with_feedback_detail(FeedbackRequest.objects.select_related("handoff__lead", "rater", "reject_reason",
                                                                    "feedback"))
        .filter(pk=claim.request_id, rater_id=claim.rater_id)
        .first()
    )
    if target is None:
        return _problem(request, "invalid")
    if request.user.is_authenticated and request.user.pk != target.rater_id:
        return _problem(request, "not_yours", rater=person_name(target.rater), reader=person_name(request.user))
    feedback = getattr(target, "feedback", None)
    if feedback_revision(target) != claim.revision:
        return _problem(request, "superseded", target=target, feedback=feedback, can_change=answerable(target))
    if not answerable(target):
        return _problem(request, "closed", target=target, feedback=feedback)
    row = row_for(target, request.POST if request.method == "POST" else None, rating=False)
    status = 200
    if request.method == "POST":
        saved, status = give(
            row, actor=Actor.person(target.rater), via=Via.LINK, rating=claim.rating, revision=claim.revision
        )
        if saved is not None:
            return render(
                request,
                "handoff/feedback_link_done.html",
                {"target": target, "feedback": saved, "ratings": RATING_LABELS, "deadline": change_deadline(saved)},
            )
    others = [
        (rating, feedback_link_token(request_id=target.pk, rater_id=target.rater_id, rating=rating,
                                     revision=claim.revision))
        for rating in RATING_LABELS
    ]
    context = {
        "target": target,
        "row": row,
        "rating": claim.rating,
        "ratings": RATING_LABELS,
        "others": others,
        "token": token,
        "pending": target.outcome == FeedbackOutcome.PENDING,
    }
    return render(request, "handoff/feedback_link.html", context, status=status)
