"""Background jobs a service asks for: a Celery task queued by name once per transaction, after it commits.

Services never import tasks (tasks import services): they name the task. A transaction that asks for the same
job many times (a sync page's transitions, a scan's batches) queues it once, when it commits; a transaction that
rolls back queues nothing.
"""

from __future__ import annotations

import weakref

from celery import current_app
from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper


class _AfterCommit:
    """The on_commit callback of one job in one transaction."""

    def __init__(self, task_name: str):
        self.task_name = task_name
        self.ran = False

    def __call__(self) -> None:
        self.ran = True
        _send(self.task_name)


# Connection → task name → the callback waiting for that connection's transaction to commit. By connection: each
# thread has its own, and so its own transaction. Only a weak reference to the callback: when the transaction (or
# the savepoint the job was asked for in) rolls back, Django drops its callbacks, the callback is freed and the
# reference dies, so the next transaction queues the job again.
_waiting: weakref.WeakKeyDictionary[BaseDatabaseWrapper, dict[str, weakref.ref]] = weakref.WeakKeyDictionary()


def job_after_commit(task_name: str, *, using: str = "default") -> None:
    """Queue the Celery task `task_name` (no arguments) once this transaction commits; at once outside one."""
    connection = transaction.get_connection(using)
    if not connection.in_atomic_block:
        _send(task_name)
        return
    waiting = _waiting.setdefault(connection, {})
    queued = waiting.get(task_name)
    callback = queued() if queued is not None else None
    if callback is not None and not callback.ran:
        return  # already queued in this transaction
    callback = _AfterCommit(task_name)
    waiting[task_name] = weakref.ref(callback)
    transaction.on_commit(callback, using=using)


def _send(task_name: str) -> None:
    # A signature by name: the registered task's own apply_async where this process has it (so eager mode holds),
    # else a plain message to the broker.
    current_app.signature(task_name).delay()
