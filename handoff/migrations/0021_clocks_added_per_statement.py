"""Issue 13: on PostgreSQL, clocks inserted together move their handoffs' next due time in one statement.

Migration 0019's trigger ran once per inserted clock, each an UPDATE of its handoff: a qualification batch starts
two or three clocks per handoff, and the sync's first import of 1,000,000 leads qualifies 33,623 of them. Measured on
the 200,000-handoff bench table: inserting 33,623 clocks took 3.76 s with that trigger, 0.24 s without it; their
handoffs' values set in one statement, 1.4 s. Now an `AFTER INSERT … FOR EACH STATEMENT` trigger reads the inserted
clocks (a transition table) and updates each handoff once, where its value changed. Deletes and updates of clocks
keep the row trigger (one clock at a time in the services, and the SLA flag fires neither). SQLite has no statement
triggers: it keeps 0019's.
"""
import importlib

from django.db import migrations

# The row trigger without its INSERT case (0019's function, with that case taken out).
ROW_FUNCTION = """CREATE OR REPLACE FUNCTION handoff_clock_moved() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE handoff_handoff SET next_due_at = NULL WHERE id = OLD.handoff_id
            AND next_due_at IS DISTINCT FROM handoff_next_due_at(OLD.handoff_id);
        IF TG_OP = 'UPDATE' AND NEW.handoff_id <> OLD.handoff_id THEN
            UPDATE handoff_handoff SET next_due_at = NULL WHERE id = NEW.handoff_id
                AND next_due_at IS DISTINCT FROM handoff_next_due_at(NEW.handoff_id);
        END IF;
        RETURN NULL;
    END $$"""

FORWARD = [
    "DROP TRIGGER handoff_clock_moved ON handoff_milestone",
    ROW_FUNCTION,
    """CREATE TRIGGER handoff_clock_moved
        AFTER DELETE OR UPDATE OF due_at, met_at, stopped_at, paused_at, handoff_id ON handoff_milestone
        FOR EACH ROW EXECUTE FUNCTION handoff_clock_moved()""",
    # Each handoff of the inserted clocks once; the handoff's own trigger computes the value (0019).
    """CREATE FUNCTION handoff_clocks_added() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE handoff_handoff h SET next_due_at = NULL
                FROM (SELECT DISTINCT handoff_id FROM added) a
                WHERE h.id = a.handoff_id AND h.next_due_at IS DISTINCT FROM handoff_next_due_at(a.handoff_id);
            RETURN NULL;
        END $$""",
    """CREATE TRIGGER handoff_clocks_added AFTER INSERT ON handoff_milestone
        REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION handoff_clocks_added()""",
]

# Back to 0019's row trigger, as 0019 created it.
_0019 = importlib.import_module("handoff.migrations.0019_next_due_at_kept_on_the_handoff")
BACKWARD = [
    "DROP TRIGGER handoff_clocks_added ON handoff_milestone",
    "DROP FUNCTION handoff_clocks_added()",
    "DROP TRIGGER handoff_clock_moved ON handoff_milestone",
    "DROP FUNCTION handoff_clock_moved()",
    *(statement for statement in _0019.POSTGRESQL if "handoff_clock_moved()" in statement),
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in FORWARD:
            schema_editor.execute(statement)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("handoff", "0020_list_indexes_cover_the_owner")]

    operations = [migrations.RunPython(forward, backward)]
