"""One sync at a time: a named lease in the database that a crashed worker gives up by letting it expire.

The CRM sync holds `LEASE`; the write-back flush holds a lease of its own name.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from handoff.exceptions import WrongState
from handoff.models import SyncLease

LEASE = "crm-sync"


class SyncBusy(WrongState):
    """Another sync holds the lease."""

    code = "sync_busy"


def lease_acquire(*, name: str, holder: str, seconds: int) -> bool:
    """Take the lease when it is free or expired; False when someone else holds it."""
    now = timezone.now()
    until = now + timedelta(seconds=seconds)
    with transaction.atomic():
        taken = (
            SyncLease.objects.filter(name=name)
            .filter(Q(expires_at__lte=now) | Q(holder=holder))
            .update(holder=holder, expires_at=until)
        )
        if taken:
            return True
        try:
            with transaction.atomic():
                SyncLease.objects.create(name=name, holder=holder, expires_at=until)
        except IntegrityError:
            return False
    return True


def lease_renew(*, name: str, holder: str, seconds: int) -> None:
    """Extend a held lease; SyncBusy when it lapsed and another worker took it."""
    until = timezone.now() + timedelta(seconds=seconds)
    if not SyncLease.objects.filter(name=name, holder=holder).update(expires_at=until):
        raise SyncBusy("The sync lease lapsed and another sync took over; stopping this one.")


def lease_release(*, name: str, holder: str) -> None:
    SyncLease.objects.filter(name=name, holder=holder).delete()
