"""Issue 13: each handoff's owner's team kept on it, by the database, and the two indexes that let a manager's list
read only its own rows newest first: its teams' (`handoff_team_handed_idx`) and the queue's
(`handoff_queue_handed_idx`), merged by PostgreSQL (selectors/handoffs.py `handoffs_visible_in_parts`, api/views.py's
handoff list).

A manager sees the handoffs of their teams' reps and the queue's. Found newest first through `handoff_handed_idx`,
their page passed over every other team's rows: at 1,000,000 handoffs a team of 50,000 is one row in twenty, and
`?breached=true` read about 7,400 index entries to find a page of 51 (1.2 ms of the 1.5 ms its positions took). An
index led by the owner cannot give 25 owners' rows in one order, and one led by the owner's team needs that team on
the row.

Triggers keep `owner_team`, on PostgreSQL and on SQLite alike, whoever writes:
- a handoff inserted, or written with its owner (or this column) in the statement, gets its owner's team, read from
  the owner's profile: the column is the database's, never the application's (a stale instance saved writes the
  right value);
- a rep's profile created, deleted, or moved to another team (or to another user) moves their handoffs' value.
Deleting a team sets its reps' profiles' team to none (Django's SET_NULL), which moves their handoffs' value: the
column has no foreign key of its own, so nothing else need follow a deleted team.
"""
import importlib

from django.db import migrations, models

PROFILE = "(SELECT p.team_id FROM handoff_repprofile p WHERE p.user_id = {owner})"

POSTGRESQL = [
    f"""CREATE FUNCTION handoff_owner_team_kept() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN NEW.owner_team_id := {PROFILE.format(owner="NEW.owner_id")}; RETURN NEW; END $$""",
    """CREATE TRIGGER handoff_owner_team_kept BEFORE INSERT OR UPDATE OF owner_id, owner_team_id ON handoff_handoff
        FOR EACH ROW EXECUTE FUNCTION handoff_owner_team_kept()""",
    # The rep's handoffs whose value differs are written again; the handoff's trigger computes it.
    f"""CREATE FUNCTION handoff_owner_team_moved() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' AND NEW.team_id IS NOT DISTINCT FROM OLD.team_id AND NEW.user_id = OLD.user_id THEN
                RETURN NULL;
            END IF;
            IF TG_OP <> 'INSERT' THEN
                UPDATE handoff_handoff SET owner_team_id = NULL WHERE owner_id = OLD.user_id
                    AND owner_team_id IS DISTINCT FROM {PROFILE.format(owner="OLD.user_id")};
            END IF;
            IF TG_OP <> 'DELETE' THEN
                UPDATE handoff_handoff SET owner_team_id = NULL WHERE owner_id = NEW.user_id
                    AND owner_team_id IS DISTINCT FROM {PROFILE.format(owner="NEW.user_id")};
            END IF;
            RETURN NULL;
        END $$""",
    """CREATE TRIGGER handoff_owner_team_moved AFTER INSERT OR DELETE OR UPDATE OF team_id, user_id
        ON handoff_repprofile FOR EACH ROW EXECUTE FUNCTION handoff_owner_team_moved()""",
]
POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS handoff_owner_team_moved ON handoff_repprofile",
    "DROP FUNCTION IF EXISTS handoff_owner_team_moved()",
    "DROP TRIGGER IF EXISTS handoff_owner_team_kept ON handoff_handoff",
    "DROP FUNCTION IF EXISTS handoff_owner_team_kept()",
]

# SQLite cannot assign to NEW: the row is written again after it is written, only when its value differs (a trigger
# does not fire itself: recursive_triggers is off). The profile's triggers write the rep's handoffs' value; the
# handoff's own trigger then finds it right and does nothing.
_OWN = PROFILE.format(owner="NEW.owner_id")
_SET_OWN = f"UPDATE handoff_handoff SET owner_team_id = {_OWN} WHERE id = NEW.id"


def _sqlite_rep(user: str) -> str:
    return (
        f"UPDATE handoff_handoff SET owner_team_id = {PROFILE.format(owner=user)} WHERE owner_id = {user} "
        f"AND owner_team_id IS NOT {PROFILE.format(owner=user)};"
    )


SQLITE = [
    f"""CREATE TRIGGER handoff_owner_team_added AFTER INSERT ON handoff_handoff
        WHEN NEW.owner_team_id IS NOT {_OWN} BEGIN {_SET_OWN}; END""",
    f"""CREATE TRIGGER handoff_owner_team_kept AFTER UPDATE OF owner_id, owner_team_id ON handoff_handoff
        WHEN NEW.owner_team_id IS NOT {_OWN} BEGIN {_SET_OWN}; END""",
    f"""CREATE TRIGGER handoff_owner_team_joined AFTER INSERT ON handoff_repprofile
        BEGIN {_sqlite_rep("NEW.user_id")} END""",
    f"""CREATE TRIGGER handoff_owner_team_left AFTER DELETE ON handoff_repprofile
        BEGIN {_sqlite_rep("OLD.user_id")} END""",
    f"""CREATE TRIGGER handoff_owner_team_moved AFTER UPDATE OF team_id, user_id ON handoff_repprofile
        BEGIN {_sqlite_rep("OLD.user_id")} {_sqlite_rep("NEW.user_id")} END""",
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS {name}"
    for name in ("handoff_owner_team_moved", "handoff_owner_team_left", "handoff_owner_team_joined",
                 "handoff_owner_team_kept", "handoff_owner_team_added")
]


def keep(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor not in ("postgresql", "sqlite"):
        raise RuntimeError(f"handoff keeps owner_team by triggers on PostgreSQL and SQLite, not on {vendor}")
    # Every owned handoff's value first, in one statement, then the triggers that keep it.
    schema_editor.execute(
        f"UPDATE handoff_handoff SET owner_team_id = {PROFILE.format(owner='handoff_handoff.owner_id')} "
        "WHERE owner_id IS NOT NULL"
    )
    for statement in POSTGRESQL if vendor == "postgresql" else SQLITE:
        schema_editor.execute(statement)


def analyze(apps, schema_editor):
    # Statistics for the new column now, not at autovacuum's next pass: until then PostgreSQL guesses that a team
    # holds a tenth of the rows it does, and reads a team's list by bitmap and sort instead of from its index.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ANALYZE handoff_handoff")


def unkeep(apps, schema_editor):
    for statement in POSTGRESQL_DROP if schema_editor.connection.vendor == "postgresql" else SQLITE_DROP:
        schema_editor.execute(statement)


# Taking the column out again on SQLite remakes the table, which SQLite refuses while 0019's triggers on the clocks
# name it: on the way back they are dropped before and made again after.
_0019 = importlib.import_module("handoff.migrations.0019_next_due_at_kept_on_the_handoff")


def _sqlite_0019(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("handoff", "0021_clocks_added_per_statement")]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, _sqlite_0019(_0019.SQLITE)),
        migrations.AddField(
            model_name="handoff",
            name="owner_team",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                editable=False,
                help_text="The owner's team (none: in the queue, or the owner is in none), kept by the database "
                "(migration 0022), whoever writes the handoff or moves a rep: what a manager's list reads newest first "
                "per team.",
                null=True,
                on_delete=models.DO_NOTHING,
                related_name="+",
                to="handoff.team",
            ),
        ),
        migrations.RunPython(migrations.RunPython.noop, _sqlite_0019(_0019.SQLITE_DROP)),
        migrations.RunPython(keep, unkeep),
        migrations.AddIndex(
            model_name="handoff",
            index=models.Index(
                fields=["owner_team", "-handed_at", "-id"], include=("owner",), name="handoff_team_handed_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="handoff",
            index=models.Index(
                condition=models.Q(("owner__isnull", True)), fields=["-handed_at", "-id"],
                name="handoff_queue_handed_idx",
            ),
        ),
        migrations.RunPython(analyze, migrations.RunPython.noop),
    ]
