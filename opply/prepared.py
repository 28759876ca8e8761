"""Hot reads whose SQL the ORM builds once per database connection.

Building a query's SQL (Django's compiler: resolving lookups, joins, columns, quoting) costs
more CPU than PostgreSQL spends answering a lookup by key. A `PreparedRead` asks the ORM for
the SQL once, from a queryset built with stand-in arguments, remembers where each stand-in
sits among the statement's parameters, and from then on executes the same SQL with the real
values, through the same compiler, so that the ORM's own converters still turn the columns
into Python values. The ORM stays the one source of the SQL: nothing here is written by
hand.

Only for reads whose SQL does not depend on the argument values: scalar equality on a key,
never `__in` lists, None or anything else that changes the statement's text. The build
function must give a `values_list()` queryset; each call returns its rows as tuples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections
from django.db.models import QuerySet

# Stand-ins for the arguments while the SQL is built: values no caller passes.
_STAND_INS: dict[type, Callable[[int], Any]] = {
    int: lambda n: -7_340_032_000_000 - n,
    str: lambda n: f"\x00stand-in {n}\x00",
}


class PreparedRead:
    def __init__(self, name: str, build: Callable[..., QuerySet[Any]], *kinds: type) -> None:
        self.name = name
        self.build = build
        self.stand_ins = [_STAND_INS[kind](n) for n, kind in enumerate(kinds)]

    def rows(self, *args: Any, using: str = "default") -> list[tuple[Any, ...]]:
        connection = connections[using]
        cache: dict[str, Any] = connection.__dict__.setdefault("prepared_reads", {})
        prepared = cache.get(self.name)
        if prepared is None:
            prepared = cache[self.name] = self._prepare(using)
        compiler, converters, sql, params, positions = prepared
        values = list(params)
        for position, value in zip(positions, args, strict=True):
            values[position] = value
        with connection.cursor() as cursor:
            cursor.execute(sql, values)
            fetched = cursor.fetchall()
        if converters:
            return [tuple(row) for row in compiler.apply_converters(fetched, converters)]
        return fetched

    def _prepare(self, using: str) -> tuple[Any, Any, str, Sequence[Any], list[int]]:
        compiler = self.build(*self.stand_ins).query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        converters = compiler.get_converters([s[0] for s in compiler.select[: compiler.col_count]])
        positions = []
        for stand_in in self.stand_ins:
            found = [n for n, param in enumerate(params) if param == stand_in]
            if len(found) != 1:
                raise ValueError(f"{self.name}: argument {stand_in!r} is not one parameter")
            positions.append(found[0])
        return compiler, converters, sql, params, positions
