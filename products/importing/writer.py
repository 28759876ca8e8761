"""Writing a parsed catalogue CSV: upsert by SKU, a transaction per batch, with `import`
movements in the ledger. PostgreSQL takes each batch by COPY; other databases by multi-row
statements."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from django.db import connection
from django.utils import timezone

from events.models import EventType
from events.outbox import emit, emit_stock_change, outbox_atomic
from products.counts import catalogue_changed
from products.importing.parser import RULE_COLUMNS, RULE_DEFAULTS, ImportRow, RowError
from products.models import Product, StockMovement
from products.rules import rule_problems
from products.services.stock import Actor, actor_id, product_data

T = TypeVar("T")

IMPORT_BATCH_SIZE = 2000


class ImportRulesRefused(Exception):
    """Rows whose quantity rules, merged with the product's current ones, do not hold
    together; nothing of their batch was imported (nothing at all when found by the check
    that runs before the first write)."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(str(error) for error in self.errors))


Rules = tuple[int, int, int | None]
# (id, name, price, is_active, quantity_in_stock, min, increment, max)
ChangedRow = tuple[int, str, Decimal, bool, int, int, int, int | None]


def _rules_of(row: ImportRow, current: dict[str, int | None], errors: list[RowError]) -> Rules:
    merged = row.rules_over(current)
    if problems := rule_problems(**merged):  # type: ignore[arg-type]
        errors.append(
            RowError(
                line=row.line,
                problems=tuple(f"{column}: {message}" for column, message in problems.items()),
            )
        )
    minimum, increment, maximum = (merged[column] for column in RULE_COLUMNS)
    assert minimum is not None
    assert increment is not None
    return minimum, increment, maximum


@dataclass(frozen=True)
class ImportSummary:
    created: int
    updated: int
    unchanged: int
    movements: int


def products_import(
    *,
    rows: Sequence[ImportRow],
    actor: Actor,
    note: str = "",
    batch_size: int = IMPORT_BATCH_SIZE,
    on_progress: Callable[[int], object] | None = None,
) -> ImportSummary:
    """Upsert products by SKU, one transaction per batch of rows.

    An existing product takes the row's name, price, stock and, when the row says so,
    is_active; a new one is created (active unless the row says otherwise). Every stock
    difference, and a new product's initial stock, is an `import` movement, so the ledger
    still sums to the stock. Quantity rules the file leaves out keep the product's own;
    merged, they must hold together: every row is checked against the products' current
    rules before anything is written, else ImportRulesRefused lists every such row and
    nothing is imported. Every changed product's version goes up by one.

    Each batch locks its existing products in ascending id order, as order submit locks
    them, changes them with a constant number of statements (COPY on PostgreSQL) and
    commits, so buyers' writes get their turn between batches instead of waiting for the
    whole import: on SQLite, whose one write lock the import would otherwise hold
    throughout, the import also pauses after each commit (as long as the batch held the
    lock, at most 0.2 s) so that waiting writers' retries find it free. Each batch is all or
    nothing; an import that fails part way (IntegrityError: another writer created one of
    the batch's new SKUs meanwhile; ImportRulesRefused: another writer changed a product's
    rules since the check) leaves the earlier batches written, and running the same rows
    again completes it, the rows already written counting as unchanged. `on_progress` is
    called with the number of rows each batch handled. Raises ValueError on a SKU given
    twice, before writing anything. Events: product.created / product.updated for each
    product written, and the stock events of its movement, in its batch's transaction.
    """
    by_sku = {row.sku: row for row in rows}
    if len(by_sku) != len(rows):
        raise ValueError("Each SKU may appear only once in an import.")
    writer = _ImportWriter(actor_id=actor_id(actor), note=note)
    if not writer.copy:
        # SQLite takes at most 32,766 parameters per statement: 8 per updated row.
        batch_size = min(batch_size, IMPORT_BATCH_SIZE)
    _check_rules(by_sku, batch_size)
    created = updated = unchanged = 0
    for batch in _batches(list(by_sku.values()), batch_size):
        started = time.monotonic()
        with outbox_atomic():
            counts = _import_batch(writer, batch)
        held = time.monotonic() - started
        created, updated, unchanged = (
            created + counts[0],
            updated + counts[1],
            unchanged + counts[2],
        )
        if on_progress is not None:
            on_progress(len(batch))
        if connection.vendor == "sqlite":
            time.sleep(min(held, SQLITE_MAX_PAUSE_BETWEEN_BATCHES))
    return ImportSummary(
        created=created, updated=updated, unchanged=unchanged, movements=writer.movements
    )


# SQLite retries a writer waiting for its lock at most 100 ms apart. After each commit the
# import pauses as long as its batch held the lock, up to twice that: the lock is free at
# least half the time, and after a long batch for long enough that every waiting buyer gets
# in, even one whose retry the scheduler woke late on a busy machine (with a pause of one
# retry interval, 5 of 267 buyers' writes timed out on a loaded CI machine).
SQLITE_MAX_PAUSE_BETWEEN_BATCHES = 0.2


def _check_rules(by_sku: dict[str, ImportRow], batch_size: int) -> None:
    """Every row's rules, merged with its product's current ones, before any write."""
    current: dict[str, dict[str, int | None]] = {}
    for skus in _batches(list(by_sku), batch_size):
        for sku, *rules in Product.objects.filter(sku__in=skus).values_list("sku", *RULE_COLUMNS):
            current[sku or ""] = dict(zip(RULE_COLUMNS, rules, strict=True))
    errors: list[RowError] = []
    for sku, row in by_sku.items():
        _rules_of(row, current.get(sku, RULE_DEFAULTS), errors)
    if errors:
        raise ImportRulesRefused(sorted(errors, key=lambda error: error.line))


def _import_batch(writer: _ImportWriter, batch: Sequence[ImportRow]) -> tuple[int, int, int]:
    """One batch inside the caller's transaction: (created, updated, unchanged)."""
    catalogue_changed()
    by_sku = {row.sku: row for row in batch}
    locked = (
        Product.objects.select_for_update()
        .filter(sku__in=list(by_sku))
        .order_by("pk")
        .values_list("pk", "sku", "name", "price", "is_active", "quantity_in_stock", *RULE_COLUMNS)
    )
    errors: list[RowError] = []
    changed: list[ChangedRow] = []
    movements: list[tuple[int, int, int]] = []
    seen: set[str] = set()
    unchanged = 0
    for pk, sku, name, price, was_active, stock, *was_rules in locked:
        row = by_sku.get(sku or "")
        if row is None:  # its SKU changed while this batch waited for the lock
            continue
        seen.add(row.sku)
        is_active = was_active if row.is_active is None else row.is_active
        rules = _rules_of(row, dict(zip(RULE_COLUMNS, was_rules, strict=True)), errors)
        delta = row.quantity_in_stock - stock
        if delta == 0 and (name, price, was_active, *was_rules) == (
            row.name,
            row.price,
            is_active,
            *rules,
        ):
            unchanged += 1
            continue
        changed.append((pk, row.name, row.price, is_active, row.quantity_in_stock, *rules))
        if delta:
            movements.append((pk, delta, row.quantity_in_stock))
    new_rows = [row for sku, row in by_sku.items() if sku not in seen]
    new_rules = {row.sku: _rules_of(row, RULE_DEFAULTS, errors) for row in new_rows}
    if errors:  # another writer changed a product's rules since _check_rules
        raise ImportRulesRefused(sorted(errors, key=lambda error: error.line))
    writer.update_products(changed)
    writer.add_movements(movements)
    _emit_events(EventType.PRODUCT_UPDATED, [change[0] for change in changed], movements)
    if new_rows:
        ids_by_sku = writer.create_products(new_rows, new_rules)
        initial = [
            (ids_by_sku[row.sku], row.quantity_in_stock, row.quantity_in_stock)
            for row in new_rows
            if row.quantity_in_stock
        ]
        writer.add_movements(initial)
        _emit_events(EventType.PRODUCT_CREATED, list(ids_by_sku.values()), initial)
    return len(new_rows), len(changed), unchanged


def _emit_events(
    event_type: str, product_ids: list[int], movements: list[tuple[int, int, int]]
) -> None:
    """The events of a batch just written, rendered from the products as they now are (one
    query per batch)."""
    if not product_ids:
        return
    products = {product.pk: product for product in Product.objects.filter(pk__in=product_ids)}
    for pk in product_ids:
        emit(event_type, lambda product=products[pk]: product_data(product))  # type: ignore[misc]
    for pk, delta, quantity_after in movements:
        emit_stock_change(
            product_id=pk,
            delta=delta,
            quantity_after=quantity_after,
            reason=StockMovement.Reason.IMPORT,
            order=None,
            render_product=lambda product=products[pk]: product_data(product),  # type: ignore[misc]
        )


class _ImportWriter:
    """The import's writes, a batch per statement: COPY on PostgreSQL (no per-row ORM
    objects, no huge parameter lists), one multi-row statement elsewhere. Django's
    bulk_update writes a CASE per column whose cost grows with the batch squared."""

    def __init__(self, *, actor_id: int | None, note: str) -> None:
        self.actor_id = actor_id
        self.note = note
        self.now = timezone.now()
        self.movements = 0
        self.copy = connection.vendor == "postgresql"
        self.ops = connection.ops
        self.table = self.ops.quote_name(Product._meta.db_table)

    def update_products(self, rows: Sequence[ChangedRow]) -> None:
        """rows: (id, name, price, is_active, quantity_in_stock, min, increment, max). Each
        product's version goes up by one in the same statement."""
        if not rows:
            return
        columns = "id, name, price, is_active, quantity, minimum, increment, maximum"
        with connection.cursor() as cursor:
            if self.copy:
                cursor.execute(
                    "CREATE TEMPORARY TABLE IF NOT EXISTS product_import_stage "
                    "(id bigint, name text, price numeric, is_active boolean, quantity integer, "
                    "minimum integer, increment integer, maximum integer) ON COMMIT DROP"
                )
                cursor.execute("TRUNCATE product_import_stage")
                self._copy(cursor, "product_import_stage", columns, rows)
                source, params = "(SELECT * FROM product_import_stage)", []
            else:
                values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(rows))
                source = f"(VALUES {values})"
                params = [
                    value
                    for pk, name, price, is_active, quantity, *rules in rows
                    for value in (pk, name, str(price), is_active, quantity, *rules)
                ]
            # Only placeholders, quoted names and the stage table are interpolated.
            cursor.execute(
                f"WITH v ({columns}) AS {source} "  # noqa: S608
                f"UPDATE {self.table} SET name = v.name, price = v.price, "
                "is_active = v.is_active, quantity_in_stock = v.quantity, "
                "min_order_quantity = v.minimum, order_increment = v.increment, "
                f"max_order_quantity = v.maximum, version = {self.table}.version + 1, "
                f"updated_at = %s FROM v WHERE {self.table}.id = v.id",
                [*params, self.ops.adapt_datetimefield_value(self.now)],
            )

    def create_products(self, rows: Sequence[ImportRow], rules: dict[str, Rules]) -> dict[str, int]:
        """Insert new products with their quantity rules (by SKU); their ids by SKU."""
        fields = [
            (r.sku, r.name, r.price, r.quantity_in_stock, r.is_active is not False, *rules[r.sku])
            for r in rows
        ]
        if self.copy:
            with connection.cursor() as cursor:
                self._copy(
                    cursor,
                    self.table,
                    "sku, name, price, quantity_in_stock, is_active, min_order_quantity, "
                    "order_increment, max_order_quantity, version, created_at, updated_at",
                    [(*row, 1, self.now, self.now) for row in fields],
                )
        else:
            Product.objects.bulk_create(
                [
                    Product(
                        sku=sku,
                        name=name,
                        price=price,
                        quantity_in_stock=qty,
                        is_active=active,
                        min_order_quantity=minimum,
                        order_increment=increment,
                        max_order_quantity=maximum,
                    )
                    for sku, name, price, qty, active, minimum, increment, maximum in fields
                ]
            )
        skus = [row.sku for row in rows]
        found = Product.objects.filter(sku__in=skus).values_list("sku", "pk")
        return {sku: pk for sku, pk in found if sku is not None}

    def add_movements(self, rows: Sequence[tuple[int, int, int]]) -> None:
        """rows: (product id, delta, quantity after); reason `import`."""
        if not rows:
            return
        reason = StockMovement.Reason.IMPORT.value
        if self.copy:
            with connection.cursor() as cursor:
                self._copy(
                    cursor,
                    self.ops.quote_name(StockMovement._meta.db_table),
                    "product_id, delta, reason, actor_id, note, quantity_after, created_at",
                    [
                        (pk, delta, reason, self.actor_id, self.note, after, self.now)
                        for pk, delta, after in rows
                    ],
                )
        else:
            StockMovement.objects.bulk_create(
                [
                    StockMovement(
                        product_id=pk,
                        delta=delta,
                        reason=reason,
                        actor_id=self.actor_id,
                        note=self.note,
                        quantity_after=after,
                    )
                    for pk, delta, after in rows
                ]
            )
        self.movements += len(rows)

    @staticmethod
    def _copy(cursor: Any, table: str, columns: str, rows: Sequence[Sequence[Any]]) -> None:
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
