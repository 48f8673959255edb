"""The notice outboxes' sender (SLA notices, feedback digests): claims due rows, delivers email (and Slack when
configured), records each outcome."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.core.mail import get_connection, send_mail
from django.db import connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from handoff.db import bulk_set
from handoff.models import HandoffEvent, SlaNotification
from handoff.models.handoffs import ActorKind
from handoff.models.sla import NotificationKind
from handoff.selectors.sla import business_time_text

log = logging.getLogger(__name__)

CLAIM = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=2)
SLACK_TIMEOUT = 10


@dataclass
class SendResult:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


@dataclass
class Message:
    """What one outbox row delivers: a mail (text, optionally HTML too) and the line posted to Slack."""

    subject: str
    text: str
    recipients: list[str] = field(default_factory=list)
    html: str = ""
    slack: str = ""  # "": the mail's text


def _backoff(attempts: int) -> timedelta:
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def _claim(model, now: datetime, limit: int) -> list:
    """Take due rows for this sender for CLAIM; rows another sender holds are skipped, not waited for."""
    with transaction.atomic():
        rows = list(
            model.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
                status__in=[model.Status.PENDING, model.Status.SENDING],
                next_attempt_at__lte=now,
            )
            .order_by("next_attempt_at", "pk")[:limit]
        )
        model.objects.filter(pk__in=[r.pk for r in rows]).update(status=model.Status.SENDING, claimed_until=now + CLAIM)
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
    return people_to_tell(notice.handoff.owner, breach=notice.kind == NotificationKind.BREACH)


def notice_text(notice: SlaNotification) -> tuple[str, str]:
    """Subject and body of a notice."""

    milestone, handoff = notice.milestone, notice.handoff
    lead = handoff.lead
    what = milestone.get_kind_display().lower()
    owner = handoff.owner.get_full_name() or handoff.owner.get_username() if handoff.owner else "the queue"
    if notice.kind == NotificationKind.BREACH:
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

    if notice.kind != NotificationKind.BREACH:
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


def _deliver(row, message: Message, model, webhook: str, mail=None) -> None:
    """Send what is still owed on each channel, recording each success at once (`mail`: the run's connection)."""
    row.recipients = ", ".join(message.recipients)
    if row.email_sent_at is None:
        if message.recipients:
            send_mail(
                message.subject,
                message.text,
                settings.DEFAULT_FROM_EMAIL,
                message.recipients,
                html_message=message.html or None,
                connection=mail,
            )
        row.email_sent_at = timezone.now()
        # Recorded at once, not with the batch: a crash before the batch write must not send it again.
        model.objects.filter(pk=row.pk).update(email_sent_at=row.email_sent_at)
    if webhook and row.slack_sent_at is None:
        response = requests.post(webhook, json={"text": message.slack or message.text}, timeout=SLACK_TIMEOUT)
        response.raise_for_status()
        row.slack_sent_at = timezone.now()
        model.objects.filter(pk=row.pk).update(slack_sent_at=row.slack_sent_at)


def outbox_send(
    *,
    model,
    now: datetime,
    limit: int,
    load: Callable[[list[int]], dict],
    compose: Callable[[object], Message | None],
    max_attempts: int,
    gave_up: Callable[[object], None] | None = None,
) -> SendResult:
    """Deliver an outbox's due rows; each channel is sent at most once per row, failures retry with backoff.

    `model` has the `handoff.models.outbox.Outbox` fields; `load(ids)` reads the claimed rows with what
    `compose(row)` needs to write their message (None: nothing is owed any more, the row is done). A row is
    claimed before sending (another sender skips it), and each channel's success is recorded, so a retry after a
    partial failure (email sent, Slack down) resends only what failed; after `max_attempts` the row is marked
    failed and `gave_up(row)` runs. Runs outside any transaction: nothing is locked while a mail server or Slack
    answers.
    """
    result = SendResult()
    rows = _claim(model, now, limit)
    if not rows:
        return result
    by_id = load([r.pk for r in rows])
    webhook = settings.SLACK_WEBHOOK_URL
    done = []
    with _mail_connection() as mail, _records_without_flush_wait():
        for row in rows:
            item = by_id[row.pk]
            errors = []
            try:
                message = compose(item)
                if message is not None:
                    _deliver(item, message, model, webhook, mail)
            except Exception as exc:  # noqa: BLE001 - any delivery failure is recorded on the row and retried
                errors.append(f"{type(exc).__name__}: {exc}")
                mail.close()  # a connection that failed is not reused: the next message opens its own
            item.claimed_until = None
            item.attempts += 1
            if errors:
                item.last_error = "; ".join(errors)[:2000]
                if item.attempts >= max_attempts:
                    item.status = model.Status.FAILED
                    result.failed += 1
                    log.error("%s %s gave up after %s attempts: %s", model.__name__, item.pk, item.attempts,
                              item.last_error)
                    if gave_up is not None:
                        gave_up(item)
                else:
                    item.status = model.Status.PENDING
                    item.next_attempt_at = now + _backoff(item.attempts)
                    result.retrying += 1
            else:
                item.status, item.sent_at, item.last_error = model.Status.SENT, timezone.now(), ""
                result.sent += 1
            done.append(item)
    bulk_set(  # one statement for the batch (PostgreSQL: arrays), not a CASE per row and field
        done,
        ["status", "recipients", "email_sent_at", "slack_sent_at", "attempts", "next_attempt_at", "claimed_until",
         "last_error", "sent_at"],
    )
    return result


@contextmanager
def _mail_connection() -> Iterator:
    """One mail connection for a sender's run (SMTP: one login for the batch, not one per message). A server that
    refuses it now is not an error here: each message tries again, and records its own failure."""
    mail = get_connection()
    try:
        mail.open()
    except Exception as exc:  # noqa: BLE001 - reported on each row below
        log.warning("mail connection refused: %s", exc)
    try:
        yield mail
    finally:
        mail.close()


@contextmanager
def _records_without_flush_wait() -> Iterator[None]:
    """Each delivery is recorded in a commit of its own (a worker that dies mid-batch must not send it again). On
    PostgreSQL those commits do not wait for the WAL flush (`synchronous_commit = off`, for this run only): a record
    still survives a worker crash; only a database crash in the fraction of a second before the flush could lose
    one, and that message would go once more. Waiting cost 3–4 ms a row here, most of a 200-digest run."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def _load_notices(ids: list[int]) -> dict[int, SlaNotification]:
    return SlaNotification.objects.select_related(
        "milestone__policy", "milestone__handoff__lead", "milestone__handoff__owner__profile__team__manager"
    ).in_bulk(ids)


def _notice_message(notice: SlaNotification) -> Message:
    subject, body = notice_text(notice)
    return Message(subject=subject, text=body, recipients=_recipients(notice))


def notifications_send(*, now: datetime | None = None, limit: int = 200) -> SendResult:
    """Deliver due SLA notices (see `outbox_send`): email to the owner (and on a breach their manager), Slack."""
    return outbox_send(
        model=SlaNotification,
        now=now or timezone.now(),
        limit=limit,
        load=_load_notices,
        compose=_notice_message,
        max_attempts=settings.SLA_NOTIFY_MAX_ATTEMPTS,
    )


def notifications_retry(*, ids: list[int], now: datetime | None = None) -> int:
    """Make failed or waiting notices due now (an admin's retry); sent ones are never sent again."""
    now = now or timezone.now()
    return SlaNotification.objects.filter(
        pk__in=ids, status__in=[SlaNotification.Status.FAILED, SlaNotification.Status.PENDING]
    ).update(status=SlaNotification.Status.PENDING, next_attempt_at=now, attempts=0, claimed_until=None)
