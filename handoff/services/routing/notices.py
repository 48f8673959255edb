"""Telling a team's manager that leads wait in their queue because no rep can take them (once per lead)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from handoff.models import Handoff, RoutingNotice
from handoff.selectors.routing import SKIP_TEXT

from ..notifications import Message, SendResult, outbox_send


def _load(ids: list[int]) -> dict[int, RoutingNotice]:
    return RoutingNotice.objects.select_related("team__manager").in_bulk(ids)


def routing_notice_message(notice: RoutingNotice) -> Message:
    """The mail to the team's manager: which leads wait, and why each rep could not take them."""
    manager = notice.team.manager
    leads = list(
        Handoff.objects.filter(pk__in=notice.handoff_ids).select_related("lead").order_by("pk").values_list(
            "lead__first_name", "lead__last_name", "lead__company", "lead_id"
        )
    )
    count = len(notice.handoff_ids)
    subject = f"{count} lead{'s' if count != 1 else ''} waiting in {notice.team}'s queue: no rep can take them"
    base = settings.SITE_URL.rstrip("/")
    lines = [subject, ""]
    for first, last, company, lead_id in leads[:50]:
        name = " ".join(part for part in (first, last) if part) or f"lead {lead_id}"
        lines.append(f"- {name} — {company} {base}{reverse('lead_detail', args=[lead_id])}")
    if count > 50:
        lines.append(f"… and {count - 50} more.")
    lines += ["", "Why no rep could take them:"]
    lines += [f"- {username}: {SKIP_TEXT.get(reason, reason)}" for username, reason in sorted(notice.reasons.items())]
    if not notice.reasons:
        lines.append("- the team has no sales rep.")
    lines += ["", "The next routing pass tries again; give them to a rep by hand, or change who is away or capped:",
              f"{base}{reverse('routing')}", ""]
    recipients = [manager.email] if manager is not None and manager.email else []
    return Message(subject=subject, text="\n".join(lines), recipients=recipients)


def routing_notices_send(*, now: datetime | None = None, limit: int = 200) -> SendResult:
    """Deliver due queue notices to the teams' managers (see `notifications.outbox_send`)."""
    return outbox_send(
        model=RoutingNotice,
        now=now or timezone.now(),
        limit=limit,
        load=_load,
        compose=routing_notice_message,
        max_attempts=settings.SLA_NOTIFY_MAX_ATTEMPTS,
    )
