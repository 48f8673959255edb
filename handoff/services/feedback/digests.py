"""The daily digest: one per rep and local working day, written to an outbox and delivered after commit."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import (
    CharField,
    Count,
    DateField,
    DateTimeField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Value,
)
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join

from handoff import businesstime
from handoff.db import bulk_set, insert_from_select
from handoff.models import (
    FeedbackDigest,
    FeedbackOutcome,
    FeedbackRequest,
)
from handoff.selectors.calendars import calendars_load, owner_calendar_ids, people_time_zones
from handoff.selectors.feedback import (
    digest_requests,
)

from ..jobs import job_after_commit
from ..notifications import Message, SendResult, outbox_send
from .constants import DIGEST_WINDOW, SEND_TASK
from .links import feedback_link_page, feedback_link_urls
from .points import _conclude, feedback_requests_withdraw

log = logging.getLogger(__name__)


@dataclass
class DigestResult:
    made: int = 0  # digests written (each sent after commit)
    listed: int = 0  # requests they list
    expired: int = 0  # requests that had been in FEEDBACK_DIGEST_REPEATS digests
    withdrawn: int = 0  # pending requests of people no longer active
    not_working: list[int] = field(default_factory=list)  # reps whose local day is not a working day


def digest_time() -> time:
    return time.fromisoformat(settings.FEEDBACK_DIGEST_TIME)



def feedback_digests_create(*, now: datetime | None = None) -> DigestResult:
    """Write today's digest for every rep with pending requests whose local time has passed FEEDBACK_DIGEST_TIME.

    Only on the rep's working days (their calendar: weekends, public holidays and closures such as leave get no
    digest), and not while their profile is marked inactive (away: their requests wait, uncounted). Once per rep
    and local date (a unique row: a second run, or a second worker, writes none). In the same transaction, requests
    already listed FEEDBACK_DIGEST_REPEATS times expire, and the rest are counted as listed once more. The sender
    is queued after commit. The pending requests of a person whose account was deactivated are withdrawn.
    """
    now = now or timezone.now()
    result = DigestResult()
    # Per person, a look into their requests by (rater, outcome): no scan of every request for the pending ones.
    users = get_user_model().objects.filter(
        Exists(FeedbackRequest.objects.filter(rater=OuterRef("pk"), outcome=FeedbackOutcome.PENDING))
    )
    raters = list(users.values_list("pk", "is_active", "profile__is_active"))
    gone = [pk for pk, active, _ in raters if not active]
    if gone:
        result.withdrawn = feedback_requests_withdraw(rater_ids=gone, at=now)
    local_days = {}
    zones = people_time_zones(pk for pk, _, _ in raters)
    for pk, active, present in raters:
        local = now.astimezone(zones[pk])
        start = datetime.combine(local.date(), digest_time(), tzinfo=local.tzinfo)
        # A morning mail: a digest the worker could not write by then (it was down) waits for the next working day.
        if active and present is not False and start <= local < start + DIGEST_WINDOW:
            local_days[pk] = local.date()
    if not local_days:
        return result
    done = set(
        FeedbackDigest.objects.filter(rater_id__in=list(local_days), day__in=set(local_days.values())).values_list(
            "rater_id", "day"
        )
    )
    calendar_of = owner_calendar_ids(local_days)
    cals = calendars_load({c for c in calendar_of.values() if c is not None})
    due: dict[date, list[int]] = defaultdict(list)
    for pk, day in local_days.items():
        if (pk, day) in done:
            continue
        cal = cals.get(calendar_of[pk])
        working = businesstime.is_working_day(day, cal) if cal is not None else day.weekday() < 5
        if working:
            due[day].append(pk)
        else:
            result.not_working.append(pk)
    repeats = settings.FEEDBACK_DIGEST_REPEATS
    with transaction.atomic():
        for day, rater_ids in sorted(due.items()):
            mine = _digests_claim(rater_ids, day, now)
            if not mine:
                continue
            pending = FeedbackRequest.objects.filter(rater_id__any=mine, outcome=FeedbackOutcome.PENDING)
            result.expired += _conclude(pending.filter(digests__gte=repeats), FeedbackOutcome.EXPIRED, now)
            result.listed += pending.update(digests=F("digests") + 1, last_digest_on=day)
            listed = dict(
                FeedbackRequest.objects.filter(rater_id__any=mine, outcome=FeedbackOutcome.PENDING, last_digest_on=day)
                .values("rater_id")
                .annotate(n=Count("pk"))
                .values_list("rater_id", "n")
            )
            digests = list(FeedbackDigest.objects.filter(rater_id__any=mine, day=day))
            for digest in digests:
                digest.listed = listed.get(digest.rater_id, 0)
                if not digest.listed:  # everything it would have listed expired: no mail today
                    digest.status, digest.sent_at = FeedbackDigest.Status.SENT, now
            bulk_set(digests, ["listed", "status", "sent_at"])
            result.made += sum(1 for d in digests if d.listed)
        if result.made:
            job_after_commit(SEND_TASK)
    return result


def _digests_claim(rater_ids: list[int], day: date, now: datetime) -> list[int]:
    """Write the (rater, day) digest rows that do not exist yet, in one statement; the raters whose row this call
    wrote (a row another worker wrote first is skipped: ON CONFLICT DO NOTHING)."""
    rows = (
        get_user_model()
        .objects.filter(pk__any=rater_ids)
        .annotate(
            new_rater_id=F("pk"),
            new_day=Value(day, output_field=DateField()),
            new_listed=Value(0, output_field=IntegerField()),
            new_status=Value(FeedbackDigest.Status.PENDING.value, output_field=CharField()),
            new_recipients=Value("", output_field=CharField()),
            new_attempts=Value(0, output_field=IntegerField()),
            new_next_attempt_at=Value(now, output_field=DateTimeField()),
            new_last_error=Value("", output_field=CharField()),
            new_created_at=Value(now, output_field=DateTimeField()),
        )
        .order_by("pk")  # the same order in every worker
    )
    columns = {name: f"new_{name}" for name in _DIGEST_COLUMNS}
    added = insert_from_select(FeedbackDigest, rows, columns, unique=("rater", "day"), returning=("rater_id",))
    return [rater_id for (rater_id,) in added]


_DIGEST_COLUMNS = (
    "rater_id", "day", "listed", "status", "recipients", "attempts", "next_attempt_at", "last_error", "created_at"
)


def _load_digests(ids: list[int], now: datetime) -> dict[int, FeedbackDigest]:
    digests = FeedbackDigest.objects.select_related("rater__profile").in_bulk(ids)
    items = digest_requests((d.rater_id, d.day) for d in digests.values())
    zones = people_time_zones(d.rater_id for d in digests.values())
    for digest in digests.values():
        digest.items = items.get((digest.rater_id, digest.day), [])
        digest.stale = now.astimezone(zones[digest.rater_id]).date() > digest.day
    return digests


def feedback_digest_message(digest: FeedbackDigest) -> Message | None:
    """The digest's mail (text and HTML, five one-click rating links per lead) and its Slack line.

    None when nothing is owed any more: every request it listed was answered or ended since it was written, or its
    day is over in the rep's zone (the sender was down); that day's digest was never seen, so its requests are
    listed again in the next one.
    """
    if getattr(digest, "stale", False):
        _digest_gave_up(digest)
        return None
    items = getattr(digest, "items", None)
    if items is None:
        items = digest_requests([(digest.rater_id, digest.day)])[(digest.rater_id, digest.day)]
    if not items:
        return None
    rater = digest.rater
    name = rater.get_full_name() or rater.get_username()
    site = settings.SITE_URL.rstrip("/")
    page = feedback_link_page()
    rows = []
    for request in items:
        links = feedback_link_urls(request, page=page)
        rows.append({"request": request, "lead": request.handoff.lead, "links": links, **_buttons(links)})
    context = {
        "name": name,
        "rows": rows,
        "count": len(rows),
        "day": digest.day,
        "repeats": settings.FEEDBACK_DIGEST_REPEATS,
        "app_url": site + reverse("feedback_to_give"),
    }
    noun = "lead" if len(rows) == 1 else "leads"
    subject = f"How good were your leads? {len(rows)} {noun} to rate"
    slack = f"{name} has {len(rows)} {noun} to rate in handoff (one click each): {context['app_url']}"
    return Message(
        subject=subject,
        text=render_to_string("handoff/email/feedback_digest.txt", context),
        html=render_to_string("handoff/email/feedback_digest.html", context),
        recipients=[rater.email] if rater.email else [],
        slack=slack,
    )


# The five rating buttons of a lead, written here rather than by a template loop: 25 buttons a mail, in two parts,
# were three quarters of the template nodes a digest rendered.
_BUTTON_HTML = (
    '<td width="20%" style="padding:0 3px;"><a href="{}" style="display:block;text-align:center;'
    "text-decoration:none;border:1px solid #cbd3df;border-radius:8px;padding:8px 0;color:#1f2933;font-size:17px;"
    'font-weight:700;background:#ffffff;">{}<span style="display:block;font-size:10px;font-weight:400;'
    'color:#65748b;">{}</span></a></td>'
)


def _buttons(links: list[tuple[int, str, str]]) -> dict[str, str]:
    """A lead's rating buttons: table cells for the HTML part, one line each for the text part."""
    return {
        "buttons_html": format_html_join("\n", _BUTTON_HTML, ((url, rating, label) for rating, label, url in links)),
        "buttons_text": "".join(f"   {rating} ({label}): {url}\n" for rating, label, url in links),
    }


def _digest_gave_up(digest: FeedbackDigest) -> None:
    """A digest that could not be delivered did not ask: its requests are listed again in the next one."""
    FeedbackRequest.objects.filter(
        rater_id=digest.rater_id, last_digest_on=digest.day, outcome=FeedbackOutcome.PENDING, digests__gt=0
    ).update(digests=F("digests") - 1)


def feedback_digests_send(*, now: datetime | None = None, limit: int = 200) -> SendResult:
    """Deliver due digests (mail, and a Slack line when configured), each channel once, retried with backoff."""
    now = now or timezone.now()
    return outbox_send(
        model=FeedbackDigest,
        now=now,
        limit=limit,
        load=lambda ids: _load_digests(ids, now),
        compose=feedback_digest_message,
        max_attempts=settings.FEEDBACK_DIGEST_MAX_ATTEMPTS,
        gave_up=_digest_gave_up,
    )
