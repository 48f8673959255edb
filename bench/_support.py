"""What the benchmarks share: a fresh PostgreSQL database with the schema migrated."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def fresh_django(database_url: str, **environ: str) -> None:
    """Drop and create the database, point Django at it (plain settings, no debug), migrate."""
    import psycopg

    parsed = urlparse(database_url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')

    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("SECRET_KEY", "bench")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    os.environ.update(environ)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def clocks_bulk_begin(cursor) -> None:
    """Clocks (and handoffs) inserted from here by INSERT … SELECT skip the triggers that keep each handoff's next due
    time (migration 0019), which fire once a row: for loading a benchmark's millions of rows, not for anything
    measured. `clocks_bulk_end` sets every handoff's value in one statement and puts the triggers back."""
    for table in ("handoff_milestone", "handoff_handoff"):
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")


def clocks_bulk_end(cursor) -> None:
    cursor.execute(
        """UPDATE handoff_handoff h SET next_due_at = m.first
            FROM (SELECT handoff_id, min(due_at) AS first FROM handoff_milestone
                  WHERE met_at IS NULL AND stopped_at IS NULL AND paused_at IS NULL GROUP BY handoff_id) m
            WHERE h.id = m.handoff_id AND h.next_due_at IS DISTINCT FROM m.first"""
    )
    for table in ("handoff_milestone", "handoff_handoff"):
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")

