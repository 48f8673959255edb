"""The SLA notice outbox's sender: claims due rows, delivers email (and Slack when configured), records each outcome."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from handoff.models import SlaNotification
from handoff.models.sla import NoticeKind

log = logging.getLogger(__name__)

CLAIM = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=2)
SLACK_TIMEOUT = 10


@dataclass
class SendResult:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


def _backoff(attempts: int) -> timedelta:
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def _claim(now: datetime, limit: int) -> list[SlaNotification]:
    """Take due rows for this sender for CLAIM; rows another sender holds are skipped, not waited for."""
    with transaction.atomic():
        rows = list(
            SlaNotification.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
                status__in=[SlaNotification.Status.PENDING, SlaNotification.Status.SENDING],
                next_attempt_at__lte=now,
            )
            .order_by("next_attempt_at", "pk")[:limit]
        )
        SlaNotification.objects.filter(pk__in=[r.pk for r in rows]).update(
            status=SlaNotification.Status.SENDING, claimed_until=now + CLAIM
        )
    return rows


def people_to_tell(owner, *, breach: bool) -> list[str]:
    """E-mail addresses for a notice about `owner`'s handoff: the owner, and on a breach the team manager."""
    people = [owner] if owner is not None else []
    if breach and owner is not None:
        profile = getattr(owner, "profile", None)
        team = profile.team if profile is not None else None
        if team is not None and team.manager is not None:
            people.append(team.manager)
    return list(dict.fromkeys(p.email for p in people if p.email))


def _recipients(notice: SlaNotification) -> list[str]:
    """Breach: the owner and the owner's team manager; reminder: the owner.

    A breach whose escalation took the handoff from its owner was addressed at the scan, to the owner who
    breached and their manager (the handoff has no owner by now).
    """
    if notice.recipients:
        return [address.strip() for address in notice.recipients.split(",") if address.strip()]
    return people_to_tell(notice.handoff.owner, breach=notice.kind == NoticeKind.BREACH)


def notice_text(notice: SlaNotification) -> tuple[str, str]:
    """Subject and body of a notice."""
    from handoff.selectors.sla import business_time_text

    milestone, handoff = notice.milestone, notice.handoff
    lead = handoff.lead
    what = milestone.get_kind_display().lower()
    owner = handoff.owner.get_full_name() or handoff.owner.get_username() if handoff.owner else "the queue"
    if notice.kind == NoticeKind.BREACH:
        subject = f"SLA breached: {what} of {lead} ({owner})"
    else:
        subject = f"SLA reminder: {what} of {lead} is due {milestone.due_at:%a %H:%M %Z}"
    url = settings.SITE_URL.rstrip("/") + reverse("lead_detail", args=[lead.pk])
    body = (
        f"{subject}\n\n"
        f"Lead: {lead} — {lead.company}\n"
        f"Owner: {owner}\n"
        f"Segment: {milestone.segment} (SLA policy v{milestone.policy.version})\n"
        f"Due: {milestone.due_at.isoformat()}\n"
        f"Status: {business_time_text(milestone, timezone.now())}\n"
        f"{_escalation_line(notice)}\n"
        f"{url}\n"
    )
    return subject, body


def _escalation_line(notice: SlaNotification) -> str:
    """On a breach, what the SLA escalation did besides telling people, if anything.

    Read from the system's event the escalation wrote in the scan that wrote this notice (same instant), not
    from the policy alone: a handoff the rules did not let the escalation move was left as it was.
    """
    from handoff.models import HandoffEvent
    from handoff.models.handoffs import ActorKind

    if notice.kind != NoticeKind.BREACH:
        return ""
    action = (
        HandoffEvent.objects.filter(
            handoff_id=notice.milestone.handoff_id,
            at=notice.created_at,
            actor_kind=ActorKind.SYSTEM,
            action__in=["reassign", "recycle"],
        )
        .values_list("action", flat=True)
        .first()
    )
    if action is None:
        return ""
    done = "given back to the team queue" if action == "reassign" else "recycled to marketing's nurture"
    return f"Escalation: the lead was {done}.\n"


def notifications_send(*, now: datetime | None = None, limit: int = 200) -> SendResult:
    """Deliver due notices; each channel is sent at most once per notice, failures retry with backoff.

    A notice is claimed before sending (another sender skips it), and each channel's success is recorded, so
    a retry after a partial failure (email sent, Slack down) resends only what failed. Runs outside any
    transaction: nothing is locked while a mail server or Slack answers.
    """
    now = now or timezone.now()
    result = SendResult()
    rows = _claim(now, limit)
    if not rows:
        return result
    by_id = SlaNotification.objects.select_related(
        "milestone__policy", "milestone__handoff__lead", "milestone__handoff__owner__profile__team__manager"
    ).in_bulk([r.pk for r in rows])
    max_attempts = settings.SLA_NOTIFY_MAX_ATTEMPTS
    webhook = settings.SLACK_WEBHOOK_URL
    done = []
    for row in rows:
        notice = by_id[row.pk]
        errors = []
        try:
            subject, body = notice_text(notice)
            recipients = _recipients(notice)
            notice.recipients = ", ".join(recipients)
            if notice.email_sent_at is None:
                if recipients:
                    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
                notice.email_sent_at = timezone.now()
                # Recorded at once, not with the batch: a crash before the batch write must not send it again.
                SlaNotification.objects.filter(pk=notice.pk).update(email_sent_at=notice.email_sent_at)
            if webhook and notice.slack_sent_at is None:
                response = requests.post(webhook, json={"text": body}, timeout=SLACK_TIMEOUT)
                response.raise_for_status()
                notice.slack_sent_at = timezone.now()
                SlaNotification.objects.filter(pk=notice.pk).update(slack_sent_at=notice.slack_sent_at)
        except Exception as exc:  # noqa: BLE001 - any delivery failure is recorded on the row and retried
            errors.append(f"{type(exc).__name__}: {exc}")
        notice.claimed_until = None
        if errors:
            notice.attempts += 1
            notice.last_error = "; ".join(errors)[:2000]
            if notice.attempts >= max_attempts:
                notice.status = SlaNotification.Status.FAILED
                result.failed += 1
                log.error("SLA notice %s gave up after %s attempts: %s", notice.pk, notice.attempts, notice.last_error)
            else:
                notice.status = SlaNotification.Status.PENDING
                notice.next_attempt_at = now + _backoff(notice.attempts)
                result.retrying += 1
        else:
            notice.attempts += 1
            notice.status, notice.sent_at, notice.last_error = SlaNotification.Status.SENT, timezone.now(), ""
            result.sent += 1
        done.append(notice)
    SlaNotification.objects.bulk_update(
        done,
        ["status", "recipients", "email_sent_at", "slack_sent_at", "attempts", "next_attempt_at", "claimed_until",
         "last_error", "sent_at"],
    )
    return result


def notifications_retry(*, ids: list[int], now: datetime | None = None) -> int:
    """Make failed or waiting notices due now (an admin's retry); sent ones are never sent again."""
    now = now or timezone.now()
    return SlaNotification.objects.filter(
        pk__in=ids, status__in=[SlaNotification.Status.FAILED, SlaNotification.Status.PENDING]
    ).update(status=SlaNotification.Status.PENDING, next_attempt_at=now, attempts=0, claimed_until=None)
