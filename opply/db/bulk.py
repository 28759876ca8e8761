"""Many rows of one table updated by id, each to its own values, in one statement.

Django's `bulk_update` writes one `CASE WHEN id = ... THEN ...` per column with a branch per
row, and compiling it grows with the rows (a 500-line submit spent most of its time there).
Here the rows travel as a `VALUES` list joined by id: `WITH v AS (VALUES ...) UPDATE ... FROM
v`, which PostgreSQL and SQLite (3.33 and later) both run. Names are quoted and values
adapted by the ORM's own helpers; only placeholders carry the values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connection, models

BATCH = 2000  # rows per statement: far below the parameter limits of both databases


def _field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field):
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return field


def update_by_id(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    same: Mapping[str, Any] | None = None,
    increment: str | None = None,
) -> None:
    """rows: (id, *values of `fields`). `same`: fields set to one value on every row;
    `increment`: a field raised by one on every row, in the same statement."""
    if not rows:
        return
    meta = model._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    row_fields = [_field(model, meta.pk.name), *(_field(model, name) for name in fields)]
    columns = [quote(field.column) for field in row_fields]
    assignments = [f"{column} = v.{column}" for column in columns[1:]]
    common: list[Any] = []
    for name, value in (same or {}).items():
        field = _field(model, name)
        assignments.append(f"{quote(field.column)} = %s")
        common.append(field.get_db_prep_save(value, connection))
    if increment is not None:
        column = quote(_field(model, increment).column)
        assignments.append(f"{column} = {table}.{column} + 1")
    placeholder = "(" + ", ".join(["%s"] * len(row_fields)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            params = [
                field.get_db_prep_save(value, connection)
                for row in batch
                for field, value in zip(row_fields, row, strict=True)
            ]
            values = ", ".join([placeholder] * len(batch))
            # Only quoted names and placeholders are interpolated.
            cursor.execute(
                f"WITH v ({', '.join(columns)}) AS (VALUES {values}) "  # noqa: S608
                f"UPDATE {table} SET {', '.join(assignments)} FROM v "
                f"WHERE {table}.{columns[0]} = v.{columns[0]}",
                [*params, *common],
            )
