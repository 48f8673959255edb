"""Percentiles in the database: PostgreSQL's `percentile_cont`, and the same numbers by window functions elsewhere.

`percentile_cont(p)` sorts a group's n values and interpolates linearly between the values at 0-based ranks
floor(p·(n-1)) and the next one. The portable form ranks the values with ROW_NUMBER() and COUNT() over the group,
picks those two ranks with an integer division (p as a fraction of small integers, so the rank is exact), and
interpolates with the same fraction PostgreSQL uses, p·(n-1) - floor(p·(n-1)). Both ignore NULL values.
"""
from __future__ import annotations

from fractions import Fraction

from django.db import NotSupportedError, connection
from django.db.models import Aggregate, Count, F, FloatField, QuerySet, Value

MEDIAN, P90 = 0.5, 0.9
FRACTIONS = (MEDIAN, P90)


class PercentileCont(Aggregate):
    """`percentile_cont(p) WITHIN GROUP (ORDER BY expression)`: PostgreSQL only (elsewhere `percentiles`)."""

    function = "percentile_cont"
    name = "PercentileCont"
    output_field = FloatField()
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, fraction: float, **extra):
        if not 0 <= fraction <= 1:
            raise ValueError("A percentile is a fraction from 0 to 1.")
        super().__init__(expression, fraction=repr(float(fraction)), **extra)

    def as_sql(self, compiler, connection, **extra_context):
        if connection.vendor != "postgresql":
            raise NotSupportedError("percentile_cont is PostgreSQL's; use percentiles() for the portable form.")
        return super().as_sql(compiler, connection, **extra_context)


def ordered_set_available() -> bool:
    return connection.vendor == "postgresql"


def percentiles(
    queryset: QuerySet, *, value: str, group=None, fractions=FRACTIONS, window: bool | None = None
) -> dict[object, tuple[int, list[float | None]]]:
    """group value → (n, [the percentile of each fraction]) of `value` over the queryset's rows (nulls left out).

    `group`: an expression to group by (None: one group, keyed None). `window`: force the portable window-function
    form (True) or PostgreSQL's percentile_cont (False); by default the database's own.
    """
    use_window = not ordered_set_available() if window is None else window
    base = queryset.annotate(grp=group if group is not None else Value(0), val=F(value)).filter(val__isnull=False)
    if not use_window:
        rows = base.values("grp").annotate(
            n=Count("val"), **{f"p{i}": PercentileCont("val", p) for i, p in enumerate(fractions)}
        ).order_by()
        return {
            (row["grp"] if group is not None else None): (row["n"], [row[f"p{i}"] for i in range(len(fractions))])
            for row in rows
        }
    return _by_window(base.values("grp", "val").order_by(), fractions, grouped=group is not None)


def _by_window(inner: QuerySet, fractions, *, grouped: bool) -> dict[object, tuple[int, list[float | None]]]:
    sql, params = inner.query.sql_with_params()
    exact = [Fraction(p).limit_denominator(1000) for p in fractions]
    picks = []
    for i, f in enumerate(exact):
        rank = f"((w.n - 1) * {f.numerator} / {f.denominator})"
        picks.append(f"SUM(CASE WHEN w.rn = {rank} THEN w.val END) AS lo{i}")
        picks.append(f"SUM(CASE WHEN w.rn = {rank} + 1 THEN w.val END) AS hi{i}")
    statement = (
        f"SELECT w.grp, w.n, {', '.join(picks)} FROM ("
        "SELECT s.grp, s.val, ROW_NUMBER() OVER (PARTITION BY s.grp ORDER BY s.val) - 1 AS rn, "
        f"COUNT(*) OVER (PARTITION BY s.grp) AS n FROM ({sql}) s) w GROUP BY w.grp, w.n"
    )
    # The group's value as the ORM reads it (SQLite returns a truncated week as text).
    expression = inner.query.annotations["grp"]
    converters = connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)
    found = {}
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        for row in cursor.fetchall():
            key, n = row[0], row[1]
            for converter in converters:
                key = converter(key, expression, connection)
            values = []
            for i, (p, f) in enumerate(zip(fractions, exact, strict=True)):
                lo, hi = row[2 + 2 * i], row[3 + 2 * i]
                rank = (n - 1) * f.numerator // f.denominator
                frac = p * (n - 1) - rank  # as PostgreSQL: p·(n-1) - floor(p·(n-1)), in floating point
                values.append(float(lo) + (float(hi) - float(lo)) * frac if frac and hi is not None else float(lo))
            found[key if grouped else None] = (n, values)
    return found
