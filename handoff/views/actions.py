"""One handoff, one action: every button posts here, and the state machine decides.

A GET shows the action's form on a page of its own; a POST calls the service, then goes back where the
form came from. A rule that says no becomes a message; bad input is shown next to its field.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from handoff.exceptions import DomainError
from handoff.forms import (
    DisputeForm,
    NoteForm,
    PauseForm,
    ReassignForm,
    RecycleForm,
    RejectForm,
    ResolveForm,
    TouchForm,
)
from handoff.models import Handoff
from handoff.selectors.handoffs import handoffs_visible_to
from handoff.selectors.people import reps_managed_by
from handoff.services import handoffs as machine
from handoff.services.actors import Actor
from handoff.services.handoffs import Action, check

from .common import back_url, lead_link, page


@dataclass(frozen=True)
class ActionPage:
    title: str
    form: type[forms.Form]
    perform: Callable[[Handoff, Actor, dict], Handoff]
    done: Callable[[Handoff, dict], str]
    button: str = "primary"
    # Extra arguments of the form, from the request (whom a manager may assign to).
    form_kwargs: Callable[[object], dict] | None = None


def _reason(data: dict) -> str:
    return f": {data['reason'].label}" if data.get("reason") else ""


ACTIONS: dict[str, ActionPage] = {
    Action.ACCEPT: ActionPage(
        "Accept",
        NoteForm,
        lambda h, actor, d: machine.handoff_accept(handoff=h, actor=actor, note=d["note"]),
        lambda h, d: f"Accepted {h.lead}.",
    ),
    Action.REJECT: ActionPage(
        "Reject",
        RejectForm,
        lambda h, actor, d: machine.handoff_reject(handoff=h, actor=actor, reason=d["reason"], note=d["note"]),
        lambda h, d: f"Rejected {h.lead}{_reason(d)}.",
        button="danger",
    ),
    Action.TOUCH: ActionPage(
        "Log a touch",
        TouchForm,
        lambda h, actor, d: machine.handoff_touch(
            handoff=h, actor=actor, kind=d["kind"], outcome=d["outcome"], note=d["note"], at=d.get("at")
        ),
        lambda h, d: f"Logged a {d['kind']} ({d['outcome']}) with {h.lead}"
        + (f", made {_when(d['at'])}." if d.get("at") else "."),
    ),
    Action.CONVERT: ActionPage(
        "Convert",
        NoteForm,
        lambda h, actor, d: machine.handoff_convert(handoff=h, actor=actor, note=d["note"]),
        lambda h, d: f"Converted {h.lead}.",
        button="success",
    ),
    Action.RECYCLE: ActionPage(
        "Recycle to nurture",
        RecycleForm,
        lambda h, actor, d: machine.handoff_recycle(handoff=h, actor=actor, reason=d["reason"], note=d["note"]),
        lambda h, d: f"Recycled {h.lead} to nurture{_reason(d)}.",
        button="",
    ),
    Action.DISPUTE: ActionPage(
        "Dispute the rejection",
        DisputeForm,
        lambda h, actor, d: machine.handoff_dispute(handoff=h, actor=actor, reason=d["reason"], note=d["note"]),
        lambda h, d: f"Disputed the rejection of {h.lead}{_reason(d)}; a manager will decide.",
    ),
    Action.RESOLVE: ActionPage(
        "Resolve the dispute",
        ResolveForm,
        lambda h, actor, d: machine.handoff_resolve(handoff=h, actor=actor, decision=d["decision"], note=d["note"]),
        lambda h, d: (
            f"Upheld the rejection of {h.lead}."
            if d["decision"] == machine.Decision.UPHOLD
            else f"Overturned the rejection of {h.lead}: it is back with its rep."
        ),
    ),
    Action.REASSIGN: ActionPage(
        "Assign to a rep",
        ReassignForm,
        lambda h, actor, d: machine.handoffs_reassign(handoffs=[h], actor=actor, owner=d["owner"], note=d["note"])[0],
        lambda h, d: f"Assigned {h.lead} to {_owner(d['owner'])}.",
        form_kwargs=lambda request: {"reps": reps_managed_by(request.user)},
    ),
    # The owner's manager (the rules also let the owner) stops a handoff's clocks by hand, always with a reason.
    Action.PAUSE: ActionPage(
        "Pause the SLA clocks",
        PauseForm,
        lambda h, actor, d: machine.handoff_pause(handoff=h, actor=actor, note=d["note"]),
        lambda h, d: f"Paused the SLA clocks of {h.lead}: {d['note']}",
        button="",
    ),
    Action.RESUME: ActionPage(
        "Resume the SLA clocks",
        PauseForm,
        lambda h, actor, d: machine.handoff_resume(handoff=h, actor=actor, note=d["note"]),
        lambda h, d: f"Resumed the SLA clocks of {h.lead}; their deadlines moved by the time they were paused.",
    ),
}


def _when(at) -> str:
    local = timezone.localtime(at)
    return f"{local:%b} {local.day}, {local:%H:%M %Z}"


def _owner(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else "the queue"


@page()
def handoff_action(request, pk: int, action: str):
    spec = ACTIONS.get(action)
    if spec is None:
        raise Http404("No such action.")
    # A handoff the reader may not see does not exist for them.
    handoff = get_object_or_404(
        handoffs_visible_to(request.user).select_related("owner__profile"), pk=pk
    )
    actor = Actor.person(request.user)
    fallback = back_url(request, "lead_detail", handoff.lead_id)
    status = 200
    form_kwargs = spec.form_kwargs(request) if spec.form_kwargs else {}
    if request.method == "POST":
        form = spec.form(request.POST, **form_kwargs)
        if form.is_valid():
            try:
                result = spec.perform(handoff, actor, form.cleaned_data)
            except DomainError as exc:
                if exc.field not in form.fields:
                    messages.error(request, exc.message)
                    return redirect(fallback)
                form.add_error(exc.field, exc.message)
                status = exc.status
            else:
                messages.success(request, lead_link(spec.done(result, form.cleaned_data), handoff.lead_id))
                return redirect(fallback)
        else:
            status = 400
    else:
        try:
            check(Action(action), actor, handoff)
        except DomainError as exc:
            messages.error(request, exc.message)
            return redirect(fallback)
        form = spec.form(**form_kwargs)
    context = {"handoff": handoff, "action": action, "spec": spec, "form": form, "next": fallback}
    return render(request, "handoff/action.html", context, status=status)
