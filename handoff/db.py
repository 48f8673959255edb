"""Database helpers the services share: list membership as one parameter, set-based updates, lean inserts.

Both exist for the batch paths (a sync page, a qualification batch of 1,000 handoffs): on PostgreSQL a
10,000-value `IN (%s, %s, …)` costs more to build and parse than to run, and Django's `bulk_update` writes a
`CASE WHEN` per row and field. SQLite, the embedded default, keeps Django's own forms.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import decimal
import functools
import hashlib
import re
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import DatabaseError, connection, connections, models
from django.db.models import Field, Lookup
from django.db.models.lookups import In
from django.db.models.sql.datastructures import BaseTable
from django.utils import timezone


class AnyOf(Lookup):
    """`field__any=[…]`: the field's value is one of the list's, passed as a single array on PostgreSQL."""

    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self):
        values = list(dict.fromkeys(self.rhs))
        prep = self.lhs.output_field.get_prep_value
        return [prep(value) for value in values]

    def as_sql(self, compiler, connection):
        return In(self.lhs, self.rhs).as_sql(compiler, connection)

    def as_postgresql(self, compiler, connection):
        if not self.rhs:
            raise EmptyResultSet
        lhs, lhs_params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        values = [field.get_db_prep_value(value, connection, prepared=True) for value in self.rhs]
        return f"{lhs} = ANY(%s::{_array_type(field, connection)})", (*lhs_params, values)


# Relations keep a lookup registry of their own: register on both.
Field.register_lookup(AnyOf)
models.ForeignObject.register_lookup(AnyOf)


class RowCondition(models.Expression):
    """A condition on each row of the query's own table, written as SQL: `{row}` stands for that table's alias in the
    query (its name, or U0 and the like once the query is nested in another).

    For a filter a list adds on every request, such as "has a breached clock": Django resolves an `Exists` into a
    query by copying its whole subquery (about half a millisecond of a list's request), where this one is resolved
    as a constant. `~` gives its negation.
    """

    conditional = True
    output_field = models.BooleanField()

    def __init__(self, template: str, negated: bool = False):
        super().__init__()
        self.template, self.negated = template, negated

    def __invert__(self) -> RowCondition:
        return RowCondition(self.template, not self.negated)

    def as_sql(self, compiler, connection):
        # The query's own table: its one BaseTable (the first alias is not always it once aliases were relabelled).
        row = next(alias for alias, table in compiler.query.alias_map.items() if isinstance(table, BaseTable))
        sql = self.template.format(row=compiler.quote_name_unless_alias(row))
        return (f"NOT {sql}" if self.negated else sql), ()


class MergedQuerySet:
    """Disjoint querysets of one model (values, or models) read as one ordered list: each part cut to the rows a slice
    needs, in the list's order, then merged (`UNION ALL`, ordered, sliced again) in one statement.

    For a list whose filter is an OR no index serves in order (a manager's teams and the queue): each part is read
    newest first from an index of its own, where the whole list passed over every row the OR turned away. PostgreSQL
    merges the parts' ordered reads (a Merge Append) and stops each when the slice is full. What a cursor paginator
    asks of a queryset is here: `order_by`, `filter`, `exclude`, a slice (a list), `model`. A slice needs an order,
    and the order's fields must be selected by the parts (`values()`) or be their columns. The database must allow an
    ordered, sliced part in a compound statement (PostgreSQL; not SQLite: use the whole queryset there)."""

    def __init__(self, parts: Sequence[models.QuerySet], ordering: tuple[str, ...] = ()):
        if not parts:
            raise ValueError("MergedQuerySet needs at least one part")
        self.parts = tuple(parts)
        self.ordering = ordering
        self.model = parts[0].model
        self.db = parts[0].db

    def order_by(self, *ordering: str) -> MergedQuerySet:
        return MergedQuerySet([part.order_by(*ordering) for part in self.parts], ordering)

    def filter(self, *args, **kwargs) -> MergedQuerySet:
        return MergedQuerySet([part.filter(*args, **kwargs) for part in self.parts], self.ordering)

    def exclude(self, *args, **kwargs) -> MergedQuerySet:
        return MergedQuerySet([part.exclude(*args, **kwargs) for part in self.parts], self.ordering)

    def __getitem__(self, cut: slice) -> list:
        if not isinstance(cut, slice) or cut.step is not None or cut.stop is None or (cut.start or 0) < 0:
            raise TypeError("MergedQuerySet takes a slice with an end, and no step")
        if not self.ordering:
            raise TypeError("MergedQuerySet: order it before slicing (a merged list has no order of its own)")
        if len(self.parts) == 1:
            return list(self.parts[0][cut])
        first, *others = (part[: cut.stop] for part in self.parts)
        return list(first.union(*others, all=True).order_by(*self.ordering)[cut])


def own_columns(model: type[models.Model]) -> list[str]:
    """Every column of the model's own table, for `.only()` beside the few columns a page reads of related rows (a
    join's every column costs the ORM a select entry to build and hash, and a value to read, per row)."""
    return [field.attname for field in model._meta.concrete_fields]


def _array_type(field: Field, conn) -> str:
    target = field.target_field if isinstance(field, models.ForeignKey) else field
    return f"{target.cast_db_type(conn)}[]"


def bulk_set(objs: Sequence[models.Model], fields: Sequence[str]) -> int:
    """Write `fields` of these already-saved objects back in one statement (per model), by primary key.

    PostgreSQL: `UPDATE … FROM unnest(ids, values…)`, one array per field. Elsewhere: `bulk_update`.
    """
    if not objs:
        return 0
    model = type(objs[0])
    if connection.vendor != "postgresql":
        return model.objects.bulk_update(objs, fields)
    meta = model._meta
    pk = meta.pk
    columns = [meta.get_field(name) for name in fields]
    arrays = [[pk.get_db_prep_value(obj.pk, connection) for obj in objs]]
    arrays += [[f.get_db_prep_save(getattr(obj, f.attname), connection) for obj in objs] for f in columns]
    quote = connection.ops.quote_name
    unnest = ", ".join(f"%s::{_array_type(f, connection)}" for f in [pk, *columns])
    names = ", ".join(f"c{i}" for i in range(len(columns) + 1))
    assignments = ", ".join(f"{quote(f.column)} = v.c{i + 1}" for i, f in enumerate(columns))
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "
        f"FROM unnest({unnest}) AS v({names}) WHERE t.{quote(pk.column)} = v.c0"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)
        return cursor.rowcount


def insert_rows(model: type[models.Model], rows: Sequence[dict]) -> int:
    """Insert new rows given as {field attname: value}; a field left out takes its model default.

    For append-only rows whose ids nobody needs back (SLA clocks of a qualification batch): PostgreSQL gets
    them through COPY, without building a model instance per row. Elsewhere: `bulk_create`.
    """
    if not rows:
        return 0
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    known = {f.attname for f in fields}
    unknown = set().union(*(row.keys() for row in rows)) - known
    if unknown:
        raise TypeError(f"{model.__name__} has no field {', '.join(sorted(unknown))}")
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**row) for row in rows])
        return len(rows)
    now = timezone.now()
    fill = {}
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            fill[f.attname] = now
        else:
            fill[f.attname] = f.get_default()  # the default, else "" for a text field, else None
    adapted = [f for f in fields if isinstance(f, models.JSONField)]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    names = [f.attname for f in fields]
    with connection.cursor() as cursor, cursor.cursor.copy(
        f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
    ) as copy:
        for row in rows:
            values = {**fill, **row}
            for f in adapted:
                values[f.attname] = f.get_db_prep_save(values[f.attname], connection)
            copy.write_row([values[name] for name in names])
    return len(rows)


def insert_from_select(model: type[models.Model], queryset: models.QuerySet, columns: dict[str, str],
                       *, unique: Sequence[str], returning: Sequence[str] = ()) -> list[tuple]:
    """`INSERT INTO model (…) SELECT … ON CONFLICT (unique) DO NOTHING`: new rows straight from a query.

    `columns` maps each target field's attname to the annotation of `queryset` that gives its value. No row
    leaves the database on the way in, and a row whose `unique` fields exist already (written by a concurrent run,
    or by this same statement) is skipped, not an error. Rows go in the queryset's order, so two runs that overlap
    take their key locks in the same order. Returns, for each row added, its `returning` fields (attnames) as the
    ORM reads them: one tuple per row, empty when none are asked for. PostgreSQL and SQLite alike.
    """
    meta = model._meta
    query = queryset.values(*columns.values()).query
    # Name the target columns in the order the SELECT lists them (values()' order; before Django 5.0, annotate()').
    by_alias = {alias: attname for attname, alias in columns.items()}
    selected = list(query.selected or ()) if hasattr(query, "selected") else list(query.annotation_select)
    if sorted(selected) != sorted(by_alias) or query.values_select:
        raise TypeError("insert_from_select: the queryset must select exactly the annotations named in `columns`.")
    quote = connection.ops.quote_name
    targets = ", ".join(quote(meta.get_field(by_alias[alias]).column) for alias in selected)
    conflict = ", ".join(quote(meta.get_field(name).column) for name in unique)
    fields = [meta.get_field(name) for name in returning]
    sql, params = query.sql_with_params()
    # "WHERE true": SQLite reads `SELECT … ON CONFLICT` as a join's ON without it.
    statement = (
        f"INSERT INTO {quote(meta.db_table)} ({targets}) SELECT * FROM ({sql}) AS source WHERE true "
        f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {', '.join(quote(f.column) for f in fields) or '1'}"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        rows = cursor.fetchall()
    if not fields:
        return [() for _ in rows]
    readers = [(i, _reader(f)) for i, f in enumerate(fields)]
    readers = [(i, read) for i, read in readers if read is not None]
    if not readers:  # PostgreSQL: the driver already gives Python values
        return [tuple(row) for row in rows]
    converted = []
    for row in rows:
        row = list(row)
        for i, read in readers:
            row[i] = read(row[i])
        converted.append(tuple(row))
    return converted


def _reader(field: Field):
    """How to read a raw column value as the ORM gives it (SQLite returns a datetime as text); None: as it is."""
    column = field.get_col(field.model._meta.db_table)
    converters = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
    if not converters:
        return None

    def read(value):
        for converter in converters:
            value = converter(value, column, connection)
        return value

    return read


def upsert_add(model: type[models.Model], rows: Sequence[dict], *, key: Sequence[str], counts: Sequence[str]) -> None:
    """Add each row's `counts` to the stored row with the same `key` values, creating it when missing.

    `INSERT … ON CONFLICT (key) DO UPDATE SET c = c + excluded.c`, one statement for all the rows: counters kept
    without reading them first. PostgreSQL gets the rows as one array per column (`unnest`), SQLite as VALUES.
    Rows are written in key order, so two transactions adding to the same counters lock them in the same order.
    `rows` are {field attname: value}.
    """
    if not rows:
        return
    meta = model._meta
    quote = connection.ops.quote_name
    fields = [meta.get_field(name) for name in (*key, *counts)]
    table = quote(meta.db_table)
    names = [f.attname for f in fields]
    ordered = sorted(rows, key=lambda row: tuple(str(row[name]) for name in names[: len(key)]))
    columns = ", ".join(quote(f.column) for f in fields)
    updates = ", ".join(
        f"{quote(f.column)} = {table}.{quote(f.column)} + excluded.{quote(f.column)}" for f in fields[len(key) :]
    )
    conflict = ", ".join(quote(f.column) for f in fields[: len(key)])
    if connection.vendor == "postgresql":
        source = "SELECT * FROM unnest(" + ", ".join(f"%s::{_array_type(f, connection)}" for f in fields) + ")"
        params = [[row[name] for row in ordered] for name in names]
    else:
        source = "VALUES " + ", ".join(["(" + ", ".join(["%s"] * len(fields)) + ")"] * len(ordered))
        params = [f.get_db_prep_save(row[f.attname], connection) for row in ordered for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) {source} ON CONFLICT ({conflict}) DO UPDATE SET {updates}", params
        )


def execute_prepared(cursor, sql: str, params: Mapping[str, object], *, generic_plan: bool = True) -> None:
    """Run `sql` (named `%(name)s` placeholders only) as a statement prepared and planned once per connection.

    Django binds parameters client-side, so PostgreSQL parses and plans every statement it is sent; for the routing
    pass's two hot statements (a lead routed inside a sync page), planning cost more than running them. Here the
    statement is sent once per connection as `PREPARE` (its placeholders numbered, their types inferred by PostgreSQL
    from the SQL: cast where it cannot) and then run as `EXECUTE name(values…)` through the same Django cursor, in the
    same round trip as `SET LOCAL plan_cache_mode = force_generic_plan`: left to choose, PostgreSQL planned every run
    again for its values (the arrays' sizes made a plan for them look cheaper). The values are still bound
    client-side, the results read as before, and Django's query log counts the statement. The plan setting lasts until
    the transaction ends; only prepared statements follow it (psycopg prepares none with client-side binding, and the
    schema has no PL/pgSQL). A prepared statement is not transactional, so it outlives a rollback; it is kept per
    DB-API connection (a new connection prepares again). `sql` must be the same text each time: values go in
    `params`. Meant for small inputs: a generic plan does not see how many rows an array holds. Not `generic_plan`:
    PostgreSQL chooses (`plan_cache_mode = auto`: planned for its values the first five runs, then generic if that
    costs no more, as a lookup by key does) and no `SET LOCAL` is sent: for a statement run outside a transaction.

    Run plainly instead when the database is configured otherwise: `server_side_binding` (psycopg prepares itself),
    or an explicit `prepare_threshold: None` in OPTIONS (no prepared statements, e.g. behind a transaction-pooling
    PgBouncer).
    """
    if not _may_prepare():
        cursor.execute(sql, params)
        return
    label, prepare, execute, names = _prepared_statement(sql)
    done = _prepared_on.setdefault(connection.connection, set())
    if label not in done:
        cursor.execute(prepare)
        done.add(label)
    values = {name: params[name] for name in names}
    if generic_plan:
        cursor.execute(f"SET LOCAL plan_cache_mode = force_generic_plan; {execute}", values)
        cursor.nextset()  # past the SET's result, to the statement's
    else:
        cursor.execute(execute, values)


# The statements prepared on each live DB-API connection (a closed one's entry goes with it).
_prepared_on: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%|%s")


@contextlib.contextmanager
def prepared_reads(threshold: int = 2, most: int = 200):
    """Within: on PostgreSQL, a SELECT the process has sent `threshold` times (the same text, its values of the same
    types) is prepared on the connection, with its parameters' types declared, and run as `EXECUTE`: a page's
    statements are the same text on every view, and PostgreSQL parsed and planned them again each time (0.6 ms to
    plan a lead's handoffs with their five relations, against 0.1 ms to run them; a rep's page spent a third of its
    database time planning). PostgreSQL chooses each run's plan as for `one_row`; at most `most` statements a
    connection.

    For reads (a page's GET). Values of a type without a declared counterpart here (None, JSON) leave the statement
    unprepared; a statement PostgreSQL does not accept prepared that way (its parameters' types do not fit) is run
    plainly from then on (tried in a savepoint inside a transaction, so the transaction is not lost). Django's query
    log still counts each statement. Not psycopg's own preparing (`prepare_threshold`): it deallocates every prepared
    statement of the connection on a rollback, `execute_prepared`'s included. Off where prepared statements are (an
    explicit `prepare_threshold: None` in OPTIONS, e.g. behind a transaction-pooling PgBouncer) and on other
    databases."""
    if not _may_prepare():
        yield
        return
    with connection.execute_wrapper(functools.partial(_prepared_select, threshold=threshold, most=most)):
        yield


# Per process: how often each (SELECT, its parameters' types) was sent, and those PostgreSQL would not prepare.
_sent: dict[tuple, int] = {}
_unpreparable: set[tuple] = set()
_SEEN_MOST = 5_000


def _declared_type(value) -> str | None:
    """The PostgreSQL type a parameter is declared as, from its Python value (None: not declared here)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int8"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dt.datetime):
        return "timestamptz" if value.tzinfo is not None else "timestamp"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, float):
        return "float8"
    if isinstance(value, decimal.Decimal):
        return "numeric"
    if isinstance(value, dt.timedelta):
        return "interval"
    if isinstance(value, list | tuple) and value:
        kinds = {_declared_type(item) for item in value}
        if len(kinds) == 1 and (kind := kinds.pop()) in ("int8", "text"):
            return f"{kind}[]"
    return None


def _prepared_select(execute, sql, params, many, context, *, threshold: int, most: int):
    # Not a named cursor's (`.iterator()`): it sends its statement inside DECLARE … CURSOR FOR, which takes a query.
    # A SELECT may open with "(": a `UNION` of ordered, sliced parts (`MergedQuerySet`).
    select = sql.lstrip("(").startswith("SELECT")
    if many or not select or ";" in sql or getattr(context["cursor"].cursor, "name", None):
        return execute(sql, params, many, context)
    values = list(params or ())
    types = tuple(_declared_type(value) for value in values)
    key = (sql, types)
    if None in types or key in _unpreparable:
        return execute(sql, params, many, context)
    done = _prepared_on.setdefault(connection.connection, set())
    label = "handoff_r" + hashlib.sha1(repr(key).encode()).hexdigest()[:20]
    if label not in done:
        if len(_sent) > _SEEN_MOST:
            _sent.clear()
            _texts.clear()
        _sent[key] = _sent.get(key, 0) + 1
        if _sent[key] < threshold or len(done) >= most:
            return execute(sql, params, many, context)
        body, _ = _numbered(sql)
        prepare = f"PREPARE {label}({', '.join(types)}) AS {body}" if types else f"PREPARE {label} AS {body}"
        if not _prepare(execute, context, prepare):
            _unpreparable.add(key)
            return execute(sql, params, many, context)
        done.add(label)
        _texts[label] = sql
    arguments = f"({', '.join(['%s'] * len(values))})" if values else ""
    return execute(f"EXECUTE {label}{arguments}", values, False, context)


def _prepare(execute, context, prepare: str) -> bool:
    """Send PREPARE; False if PostgreSQL refused it (inside a transaction, undone to a savepoint: the transaction goes
    on). Sent down the same chain as the statement, so Django's query log counts neither."""
    savepoint = connection.in_atomic_block
    if savepoint:
        execute("SAVEPOINT handoff_prepare", None, False, context)
    try:
        execute(prepare, None, False, context)
    except DatabaseError:
        if savepoint:
            execute("ROLLBACK TO SAVEPOINT handoff_prepare", None, False, context)
            execute("RELEASE SAVEPOINT handoff_prepare", None, False, context)
        return False
    if savepoint:
        execute("RELEASE SAVEPOINT handoff_prepare", None, False, context)
    return True


# label → the SELECT it runs, for `statement_text`.
_texts: dict[str, str] = {}
_EXECUTED = re.compile(r"EXECUTE (handoff_r?[0-9a-f]{20})\b")


def statement_text(logged: str) -> str:
    """A statement as Django's query log has it, with an EXECUTE of `prepared_reads` or `execute_prepared` given as the
    SELECT it runs (its placeholders where the values go): for reading the log by what it asked."""
    found = _EXECUTED.match(logged)
    return _texts.get(found.group(1), logged) if found else logged


def _may_prepare() -> bool:
    options = connection.settings_dict.get("OPTIONS", {})
    return (
        connection.vendor == "postgresql"
        and options.get("server_side_binding") is not True
        and not ("prepare_threshold" in options and options["prepare_threshold"] is None)
    )


@functools.lru_cache(maxsize=64)
def _prepared_statement(sql: str) -> tuple[str, str, str, tuple[str, ...]]:
    """(name, PREPARE, EXECUTE with named placeholders, parameter names in $n order) for a statement's text."""
    body, names = _numbered(sql)
    if None in names:
        raise ValueError("execute_prepared: named placeholders only, %(name)s")
    label = "handoff_" + hashlib.sha1(sql.encode()).hexdigest()[:20]
    _texts[label] = sql
    arguments = f"({', '.join(f'%({name})s' for name in names)})" if names else ""
    return label, f"PREPARE {label} AS {body}", f"EXECUTE {label}{arguments}", names


def _numbered(sql: str) -> tuple[str, tuple[str | None, ...]]:
    """`sql` with its placeholders numbered `$1`, `$2`, … for PREPARE (and `%%` as `%`): a named one keeps one
    number wherever it is used, each `%s` takes the next; and the placeholders' names in number order (None: `%s`)."""
    names: list[str | None] = []

    def number(match: re.Match) -> str:
        if match.group(0) == "%%":
            return "%"
        name = match.group(1)
        if name is None or name not in names:
            names.append(name)
            return f"${len(names)}"
        return f"${names.index(name) + 1}"

    return _PLACEHOLDER.sub(number, sql), tuple(names)


@dataclass(frozen=True)
class OneRowStatement:
    """A queryset that reads one row by one value (a key), as SQL compiled once: `%(value)s` where that value goes,
    every other value named in `values`; `columns` says what each column holds: (model, attname) of a field, or
    (None, alias) of an annotation."""

    sql: str
    values: dict
    columns: tuple


def one_row_statement(queryset, stand_in) -> OneRowStatement:
    """The statement of `queryset` filtered by `stand_in` (a value nothing else in the query has), for `one_row`.
    Build it once per process (functools.cache): for a read done on every request, the ORM's building and compiling
    of a query with joins and subqueries cost as much as the database's running it."""
    compiler = queryset.query.get_compiler(using=queryset.db)
    sql, params = compiler.as_sql()
    named: dict[str, object] = {}
    found = []

    def name(match: re.Match) -> str:
        if match.group(0) == "%%":
            return "%%"
        index = len(named) + len(found)
        if params[index] == stand_in:
            found.append(index)
            return "%(value)s"
        key = f"v{index}"
        named[key] = params[index]
        return f"%({key})s"

    sql = re.sub(r"%%|%s", name, sql)
    if len(found) != 1 or len(named) + 1 != len(params):
        raise ValueError("one_row_statement: the stand-in must be the query's one changing value, used once")
    aliases = {index: alias for alias, index in compiler.annotation_col_map.items()}
    columns = tuple(
        (None, aliases[i]) if i in aliases else (expression.target.model, expression.target.attname)
        for i, (expression, _, _) in enumerate(compiler.select)
    )
    return OneRowStatement(sql, named, columns)


def one_row(statement: OneRowStatement, value) -> dict | None:
    """The row `statement` reads for `value` (None: none), as {model: {attname: value}, None: {alias: value}}: a
    statement prepared once per connection (`execute_prepared`, PostgreSQL choosing the plan). PostgreSQL only:
    the values are the driver's, with no field's converter applied (SQLite gives datetimes as text); fields that
    need one (JSON) are not for it."""
    if connection.vendor != "postgresql":
        raise NotImplementedError("one_row reads PostgreSQL's values; elsewhere, run the queryset")
    with connection.cursor() as cursor:
        execute_prepared(cursor, statement.sql, {**statement.values, "value": value}, generic_plan=False)
        row = cursor.fetchone()
    if row is None:
        return None
    found: dict = {}
    for (model, name), item in zip(statement.columns, row, strict=True):
        found.setdefault(model, {})[name] = item
    return found


# ---------------------------------------------------------------------------------------------
# Queries compiled once per process
# ---------------------------------------------------------------------------------------------
# Two sets of stand-ins for a query's ids while it is compiled (within a 32-bit key's range, so Django writes the SQL
# it would write for a real id; apart, so that one set's values never meet the other's).
_STAND_INS_A = 2_118_100_000
_STAND_INS_B = 2_118_200_000


@dataclass(frozen=True)
class _Compiled:
    """A query compiled once: the queryset it was built as (with stand-ins), its compiler after compiling (what rows
    hold: select, related objects, converters), its SQL, and per parameter `(True, i)` for the i-th id or `(False,
    value)` for a constant."""

    prototype: models.QuerySet
    compiler: object
    sql: str
    slots: tuple


# (build, shape) → its _Compiled, or None where it cannot be compiled once (then built and compiled on every call).
_compiled: dict = {}


def compiled_once(build, *ids: int, shape: tuple = (), key=None) -> list:
    """`list(build(*ids, *shape))`, with the query built and compiled once per process for each `shape`.

    `build` is a function of its arguments alone (no clock, no reader, nothing else that varies) giving a queryset of
    models or values; it puts each id in the query as a value and does not branch on it. `shape` holds hashable
    values that change the query's form, not only its values (which roles a reader holds, say); the ids are the values
    that change from call to call. `key` names the query where `build` is made afresh on each call (a closure over a
    list's queryset): `shape` then holds every input it is built from, and `build` takes no argument.

    A page's reads are the same query with another id on every view, and Django built and compiled each again: a
    lead's handoffs (five related tables), clocks and history took 3.8 ms of building and compiling on every view,
    where PostgreSQL ran each prepared in under a millisecond. Here `build` runs twice per process, with two sets of
    stand-in ids. Where both give the same SQL, and every parameter is either that id's stand-in in both or the same
    constant in both, the SQL is kept with where each id goes; each call then runs it with its ids, and Django reads
    the rows as it reads the queryset's own (the first compile's select, related objects, converters, prefetches).
    Anything else (SQL that differs, a value derived from an id, a queryset with known related objects, an id beyond
    64 bits) is not kept: the query is built and run on every call, as before."""
    return _run_once(build, ids, shape, key, counted=False)


def counted_once(build, *ids: int, shape: tuple = (), key=None) -> int:
    """`build(*ids, *shape).count()`, with the count's query built and compiled once per process for each `shape`, as
    `compiled_once` does (the same arguments, the same conditions). For a list page's count, bounded by a slice
    (`views.common.BoundedPaginator`): built and compiled on every view, it cost about as much as counting."""
    return _run_once(build, ids, shape, key, counted=True)


def _run_once(build, ids: tuple, shape: tuple, key, *, counted: bool):
    extra = shape if key is None else ()  # what `build` takes after the ids
    if not all(type(value) is int and -(2**63) <= value < 2**63 for value in ids):  # else Django's own checks
        return _run(build(*ids, *extra), counted)
    key = (build if key is None else key, shape, counted)
    entry = _compiled.get(key, _MISSING)
    if entry is _MISSING:
        if len(_compiled) >= _COMPILED_MOST:
            _compiled.clear()
        entry = _compiled[key] = _compile(build, len(ids), extra, counted)
    if entry is None:
        return _run(build(*ids, *extra), counted)
    params = tuple(ids[value] if is_id else value for is_id, value in entry.slots)
    if getattr(settings, "HANDOFF_CHECK_COMPILED", False):
        _check(build(*ids, *extra), entry.sql, params, counted)
    if counted:
        with connections[entry.prototype.db].cursor() as cursor:
            cursor.execute(entry.sql, params)
            return cursor.fetchone()[0]
    queryset = entry.prototype._chain()
    compiler = copy.copy(entry.compiler)
    compiler.connection = connections[queryset.db]
    compiler.as_sql = lambda *args, **kwargs: (entry.sql, params)
    queryset.query.get_compiler = lambda *args, **kwargs: compiler
    return list(queryset)


_MISSING = object()
# At most so many queries kept per process (lists keep one per reader's view and page).
_COMPILED_MOST = 2_000


def _run(queryset, counted: bool):
    return queryset.count() if counted else list(queryset)


def _count_sql(queryset) -> tuple[str, tuple]:
    """`queryset.count()` as SQL: COUNT(*) over its rows as it selects them (its slice and order, if any, inside)."""
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    return f"SELECT COUNT(*) FROM ({sql}) counted", tuple(params)


def _check(queryset, sql: str, params: tuple, counted: bool = False) -> None:
    """The tests' setting HANDOFF_CHECK_COMPILED: the query as built now must be the one kept."""
    if counted:
        fresh_sql, fresh_params = _count_sql(queryset)
    else:
        fresh_sql, fresh_params = queryset.query.get_compiler(using=queryset.db).as_sql()
    if (fresh_sql, tuple(fresh_params)) != (sql, params):
        raise AssertionError(f"compiled_once: the kept query is not the one built now (its key misses an input)\n"
                             f"kept:  {sql} {params}\nbuilt: {fresh_sql} {tuple(fresh_params)}")


def _compile(build, count: int, extra: tuple, counted: bool = False) -> _Compiled | None:
    stand_ins = [_STAND_INS_A + i for i in range(count)]
    others = [_STAND_INS_B + i for i in range(count)]
    prototype, other = build(*stand_ins, *extra), build(*others, *extra)
    if prototype._known_related_objects or other._known_related_objects:
        return None
    compiler = prototype.query.get_compiler(using=prototype.db)
    try:
        if counted:
            (sql, params), (other_sql, other_params) = _count_sql(prototype), _count_sql(other)
        else:
            sql, params = compiler.as_sql()
            other_sql, other_params = other.query.get_compiler(using=other.db).as_sql()
    except EmptyResultSet:
        return None
    if sql != other_sql or len(params) != len(other_params):
        return None
    slots = []
    for value, other_value in zip(params, other_params, strict=True):
        if type(value) is int and value in stand_ins and other_value == others[stand_ins.index(value)]:
            slots.append((True, stand_ins.index(value)))
        elif type(value) is type(other_value) and value == other_value:
            slots.append((False, value))
        else:
            return None
    return _Compiled(prototype, compiler, sql, tuple(slots))
