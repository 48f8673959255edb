"""Database helpers the services share: list membership as one parameter, and set-based row updates.

Both exist for the batch paths (a sync page, a qualification batch of 1,000 handoffs): on PostgreSQL a
10,000-value `IN (%s, %s, …)` costs more to build and parse than to run, and Django's `bulk_update` writes a
`CASE WHEN` per row and field. SQLite, the embedded default, keeps Django's own forms.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import EmptyResultSet
from django.db import connection, models
from django.db.models import Field, Lookup
from django.db.models.lookups import In


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
