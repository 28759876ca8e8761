"""Hot reads whose SQL the ORM builds once per database connection.

Building a query's SQL (Django's compiler: resolving lookups, joins, columns, quoting) costs
more CPU than PostgreSQL spends answering a lookup by key. A `PreparedRead` asks the ORM for
the SQL once, from a queryset built with stand-in arguments, remembers where each stand-in
sits among the statement's parameters, and from then on executes the same SQL with the real
values, through the same compiler, so that the ORM's own converters still turn the columns
into Python values. The ORM stays the one source of the SQL: nothing here is written by
hand.

Only for reads whose SQL does not depend on the argument values: scalar equality on a key,
never None or anything else that changes the statement's text; an `__in` list only as one
argument per item, with a read for each length (orders.selectors' lines of a page). The build
function must give a `values_list()` queryset. `rows()` returns its rows as tuples; `page()`
a slice of them, with the OFFSET the one part of the backend's LIMIT/OFFSET clause that
becomes a parameter (so one statement serves every page of a size); `count()` the ORM's own
`COUNT(*)` statement of the same queryset, seen the first time it is about to run.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

from django.db import connections
from django.db.models import QuerySet

# Stand-ins for the arguments while the SQL is built: values no caller passes.
_STAND_INS: dict[type, Callable[[int], Any]] = {
    int: lambda n: -7_340_032_000_000 - n,
    str: lambda n: f"\x00stand-in {n}\x00",
}
# The OFFSET while a page's SQL is built (slices cannot be negative): no catalogue is as long.
_OFFSET_STAND_IN = 7_340_032_000_017


class PreparedRead:
    def __init__(self, name: str, build: Callable[..., QuerySet[Any]], *kinds: type) -> None:
        self.name = name
        self.build = build
        self.stand_ins = [_STAND_INS[kind](n) for n, kind in enumerate(kinds)]

    def rows(self, *args: Any, using: str = "default") -> list[tuple[Any, ...]]:
        return self._execute(self.name, args, using)

    def page(
        self, *args: Any, offset: int, limit: int, using: str = "default"
    ) -> list[tuple[Any, ...]]:
        """The rows of `build(*args)[offset:offset + limit]`, as the queryset answers them;
        one statement per page size (and one for the first page, which has no OFFSET)."""
        if limit <= 0:  # the ORM answers an empty slice without a query
            return []
        return self._execute((self.name, limit, offset == 0), (*args, offset), using)

    def count(self, *args: Any, using: str = "default") -> int:
        """`build(*args).count()`, by the statement the ORM runs for it."""
        return int(self._execute((self.name, "count"), args, using)[0][0])

    def _execute(self, key: Hashable, args: Sequence[Any], using: str) -> list[tuple[Any, ...]]:
        connection = connections[using]
        cache: dict[Hashable, Any] = connection.__dict__.setdefault("prepared_reads", {})
        prepared = cache.get(key)
        if prepared is None:
            prepared = cache[key] = self._prepare(key, using)
        compiler, converters, sql, params, positions = prepared
        values = list(params)
        for places, value in zip(positions, args, strict=True):
            for place in places:
                values[place] = value
        with connection.cursor() as cursor:
            cursor.execute(sql, values)
            fetched = cursor.fetchall()
        if converters:
            return [tuple(row) for row in compiler.apply_converters(fetched, converters)]
        return fetched

    def _prepare(self, key: Hashable, using: str) -> tuple[Any, Any, str, Sequence[Any], Any]:
        queryset = self.build(*self.stand_ins)
        stand_ins = list(self.stand_ins)
        compiler: Any = None
        converters: Any = None
        if isinstance(key, tuple) and key[1] == "count":
            sql, params = _count_statement(queryset, using)
        else:
            if isinstance(key, tuple):
                _, limit, first = key
                if not queryset.ordered:
                    raise ValueError(f"{self.name}: pages of an unordered queryset")
                low = 0 if first else _OFFSET_STAND_IN
                queryset = queryset[low : low + limit]
            compiler = queryset.query.get_compiler(using=using)
            sql, params = compiler.as_sql()
            converters = compiler.get_converters(
                [s[0] for s in compiler.select[: compiler.col_count]]
            )
            if isinstance(key, tuple):
                if first:
                    stand_ins.append(None)  # the first page's OFFSET is no parameter
                else:
                    sql, params = _offset_as_parameter(
                        compiler.connection, sql, params, _OFFSET_STAND_IN, limit, self.name
                    )
                    stand_ins.append(_OFFSET_STAND_IN)
        positions = []
        for stand_in in stand_ins:
            found = [n for n, param in enumerate(params) if param == stand_in]
            if stand_in is not None and not found:
                raise ValueError(f"{self.name}: argument {stand_in!r} is not a parameter")
            positions.append(found if stand_in is not None else [])
        return compiler, converters, sql, params, positions


def _offset_as_parameter(
    connection: Any, sql: str, params: Sequence[Any], offset: int, limit: int, name: str
) -> tuple[str, tuple[Any, ...]]:
    """The statement with the backend's own LIMIT/OFFSET clause, its OFFSET a parameter."""
    clause = connection.ops.limit_offset_sql(offset, offset + limit)
    literal = str(offset)
    if not sql.endswith(clause) or sql.count(literal) != 1 or clause.count(literal) != 1:
        raise ValueError(f"{name}: the page's OFFSET is not at the end of its statement")
    return sql[: -len(clause)] + clause.replace(literal, "%s"), (*params, offset)


def _count_statement(queryset: QuerySet[Any], using: str) -> tuple[str, Sequence[Any]]:
    """The statement `queryset.count()` executes, as the ORM builds it: seen on its way to
    the database and stopped there, so that preparing it costs no query."""
    seen: list[tuple[str, Sequence[Any]]] = []

    def capture(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append((sql, tuple(params or ())))
        raise _Seen

    connection = connections[using]
    # Nor logged as a query (as tests' query counts would have it) when it never ran.
    logged, connection.force_debug_cursor = connection.force_debug_cursor, False
    try:
        with connection.execute_wrapper(capture):
            queryset.count()
    except _Seen:
        return seen[0]
    finally:
        connection.force_debug_cursor = logged
    raise ValueError("counting ran no statement")


class _Seen(Exception):
    pass


class PreparedPages:
    """A prepared read's rows as the object list Django's paginator pages through: a slice
    is one execution of the page's statement, the count the ORM's `COUNT(*)` statement."""

    ordered = True  # page() refuses to prepare an unordered queryset

    def __init__(self, read: PreparedRead, *args: Any) -> None:
        self.read = read
        self.args = args

    def count(self) -> int:
        return self.read.count(*self.args)

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index: slice) -> list[tuple[Any, ...]]:
        if not isinstance(index, slice) or index.step is not None or index.stop is None:
            raise TypeError("prepared pages are read by slices with an end")
        start = index.start or 0
        return self.read.page(*self.args, offset=start, limit=index.stop - start)
