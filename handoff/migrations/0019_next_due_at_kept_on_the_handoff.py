"""Issue 13: each handoff's next due time kept on it, by the database, and an index that serves the rep's list
"most urgent first" (selectors/sla.py `by_urgency`).

The rep's page sorted the rep's 1,000 handoffs to do by a deadline computed per handoff (`SELECT min(due_at) FROM
milestone WHERE handoff_id = … AND ticking`): 1,000 index probes and a sort on every view, most of the page's
database time. `handoff.next_due_at` now holds that value; `handoff_owner_urgency_idx` (owner, next due, newest
hand-over first, then the state, so that the to-do filter is read from the index) gives the rep's rows in the page's
order, read until the page is full.

Triggers keep it, on PostgreSQL and on SQLite alike, whoever writes:
- after a clock is inserted or deleted, or its due, met, stopped or paused time (or its handoff) changes, its
  handoff's value is computed again, and written only if it changed. The SLA flag writes `breached_at` alone (and
  the reminders `reminded_at`): neither fires it, so the 50,000-clock flag is not slowed;
- a handoff written by the application (a `save()` of an instance read before its clocks changed) gets the computed
  value, not the one it carried: the column is the database's, never the application's.
"""
from django.db import migrations, models

TICKING = "met_at IS NULL AND stopped_at IS NULL AND paused_at IS NULL"  # models.sla.TICKING

POSTGRESQL = [
    f"""CREATE FUNCTION handoff_next_due_at(handoff bigint) RETURNS timestamptz LANGUAGE sql STABLE AS $$
        SELECT min(due_at) FROM handoff_milestone WHERE handoff_id = handoff AND {TICKING} $$""",
    # A handoff written by anyone carries the computed value.
    """CREATE FUNCTION handoff_next_due_at_kept() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN NEW.next_due_at := handoff_next_due_at(NEW.id); RETURN NEW; END $$""",
    """CREATE TRIGGER handoff_next_due_at_kept BEFORE UPDATE ON handoff_handoff
        FOR EACH ROW EXECUTE FUNCTION handoff_next_due_at_kept()""",
    # A clock that moves moves its handoff's value (the handoff's trigger computes it; written only when it changes).
    """CREATE FUNCTION handoff_clock_moved() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'INSERT' THEN
                UPDATE handoff_handoff SET next_due_at = NULL WHERE id = OLD.handoff_id
                    AND next_due_at IS DISTINCT FROM handoff_next_due_at(OLD.handoff_id);
            END IF;
            IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.handoff_id <> OLD.handoff_id) THEN
                UPDATE handoff_handoff SET next_due_at = NULL WHERE id = NEW.handoff_id
                    AND next_due_at IS DISTINCT FROM handoff_next_due_at(NEW.handoff_id);
            END IF;
            RETURN NULL;
        END $$""",
    """CREATE TRIGGER handoff_clock_moved
        AFTER INSERT OR DELETE OR UPDATE OF due_at, met_at, stopped_at, paused_at, handoff_id ON handoff_milestone
        FOR EACH ROW EXECUTE FUNCTION handoff_clock_moved()""",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS handoff_clock_moved ON handoff_milestone",
    "DROP FUNCTION IF EXISTS handoff_clock_moved()",
    "DROP TRIGGER IF EXISTS handoff_next_due_at_kept ON handoff_handoff",
    "DROP FUNCTION IF EXISTS handoff_next_due_at_kept()",
    "DROP FUNCTION IF EXISTS handoff_next_due_at(bigint)",
]


def _sqlite_next_due(handoff: str) -> str:
    return f"(SELECT min(due_at) FROM handoff_milestone WHERE handoff_id = {handoff} AND {TICKING})"


# SQLite cannot assign to NEW: the handoff's trigger writes the value again after the row is written (a trigger does
# not fire itself: recursive_triggers is off), only when it differs.
SQLITE = [
    f"""CREATE TRIGGER handoff_next_due_at_kept AFTER UPDATE ON handoff_handoff
        WHEN NEW.next_due_at IS NOT {_sqlite_next_due("NEW.id")}
        BEGIN UPDATE handoff_handoff SET next_due_at = {_sqlite_next_due("NEW.id")} WHERE id = NEW.id; END""",
    f"""CREATE TRIGGER handoff_clock_inserted AFTER INSERT ON handoff_milestone BEGIN
        UPDATE handoff_handoff SET next_due_at = {_sqlite_next_due("NEW.handoff_id")} WHERE id = NEW.handoff_id
            AND next_due_at IS NOT {_sqlite_next_due("NEW.handoff_id")}; END""",
    f"""CREATE TRIGGER handoff_clock_deleted AFTER DELETE ON handoff_milestone BEGIN
        UPDATE handoff_handoff SET next_due_at = {_sqlite_next_due("OLD.handoff_id")} WHERE id = OLD.handoff_id
            AND next_due_at IS NOT {_sqlite_next_due("OLD.handoff_id")}; END""",
    f"""CREATE TRIGGER handoff_clock_moved
        AFTER UPDATE OF due_at, met_at, stopped_at, paused_at, handoff_id ON handoff_milestone BEGIN
        UPDATE handoff_handoff SET next_due_at = {_sqlite_next_due("OLD.handoff_id")} WHERE id = OLD.handoff_id
            AND next_due_at IS NOT {_sqlite_next_due("OLD.handoff_id")};
        UPDATE handoff_handoff SET next_due_at = {_sqlite_next_due("NEW.handoff_id")} WHERE id = NEW.handoff_id
            AND next_due_at IS NOT {_sqlite_next_due("NEW.handoff_id")}; END""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS handoff_clock_moved",
    "DROP TRIGGER IF EXISTS handoff_clock_deleted",
    "DROP TRIGGER IF EXISTS handoff_clock_inserted",
    "DROP TRIGGER IF EXISTS handoff_next_due_at_kept",
]


def keep(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor not in ("postgresql", "sqlite"):
        raise RuntimeError(f"handoff keeps next_due_at by triggers on PostgreSQL and SQLite, not on {vendor}")
    # Every handoff's value first, in one statement, then the triggers that keep it.
    schema_editor.execute(
        "UPDATE handoff_handoff SET next_due_at = (SELECT min(m.due_at) FROM handoff_milestone m "
        "WHERE m.handoff_id = handoff_handoff.id AND m.met_at IS NULL AND m.stopped_at IS NULL "
        "AND m.paused_at IS NULL) WHERE EXISTS (SELECT 1 FROM handoff_milestone m "
        "WHERE m.handoff_id = handoff_handoff.id AND m.met_at IS NULL AND m.stopped_at IS NULL "
        "AND m.paused_at IS NULL)"
    )
    for statement in POSTGRESQL if vendor == "postgresql" else SQLITE:
        schema_editor.execute(statement)


def unkeep(apps, schema_editor):
    for statement in POSTGRESQL_DROP if schema_editor.connection.vendor == "postgresql" else SQLITE_DROP:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("handoff", "0018_list_indexes_from_the_index")]

    operations = [
        migrations.AddField(
            model_name="handoff",
            name="next_due_at",
            field=models.DateTimeField(
                blank=True,
                editable=False,
                null=True,
                help_text="The earliest due time of its ticking clocks (not met, stopped or paused; breached ones "
                "too), kept by the database (migration 0019): none when no clock ticks.",
            ),
        ),
        migrations.RunPython(keep, unkeep),
        migrations.AddIndex(
            model_name="handoff",
            index=models.Index(
                fields=["owner", "next_due_at", "-handed_at", "-id", "state"], name="handoff_owner_urgency_idx"
            ),
        ),
    ]
