"""Writing events in the transaction of the change they describe (the outbox).

Services open their transaction with `outbox_atomic()` instead of `transaction.atomic()` and
call `emit` / `emit_stock_change` while they work. Nothing is written then: the events are
collected and inserted by the outermost `outbox_atomic` as the last statements of its block,
so they commit with the change or not at all.

Ids in commit order. On PostgreSQL the insert is preceded by a transaction-scoped advisory
lock (`pg_advisory_xact_lock`), held until commit: event ids are drawn only while holding
it, and it is released only once the transaction's rows are visible, so an event with a
lower id is always visible before any event with a higher id. A follower of the feed that
has seen id N can therefore never later find a committed event below N. SQLite gives the
same by itself: a writer holds the database's write lock for its whole transaction.
The lock is taken after every row lock of the transaction (products, orders), so it cannot
join a deadlock, and it is held only for the insert and the commit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connections, transaction
from django.utils import timezone

from events.models import Event, EventType

Render = Callable[[], dict[str, Any]]

# Any constant will do; this one spells "events" so that it is recognisable in pg_locks.
FEED_LOCK_KEY = 0x6576656E7473
# Events per INSERT: one statement for any ordinary transaction, bounded for an import.
FLUSH_BATCH = 1000


@dataclass
class _StockChange:
    product_id: int
    before: int
    after: int
    delta: int
    reason: str
    order: int | None
    render_product: Render


@dataclass
class _Buffer:
    entries: list[tuple[str, Render, int | None] | _StockChange] = field(default_factory=list)
    stock: dict[int, _StockChange] = field(default_factory=dict)


_local = threading.local()


def _buffer() -> _Buffer:
    buffer: _Buffer | None = getattr(_local, "buffer", None)
    if buffer is None:
        raise RuntimeError("Events are emitted inside outbox_atomic() only.")
    return buffer


@contextmanager
def outbox_atomic() -> Iterator[None]:
    """`transaction.atomic()` that writes the events emitted inside it before it ends.
    Nested blocks join the outermost one's transaction and buffer: without a savepoint, a
    failure inside them marks the whole transaction for rollback, so the events they
    emitted can never be written without the change they describe."""
    if getattr(_local, "buffer", None) is not None:
        with transaction.atomic(savepoint=False):
            yield
        return
    buffer = _local.buffer = _Buffer()
    try:
        with transaction.atomic():
            yield
            flush(buffer)
    finally:
        _local.buffer = None


def emit(event_type: str, render: Render, *, buyer_id: int | None = None) -> None:
    """Record an event; `render()` gives its data when the transaction's events are written,
    so it shows the resource as the transaction leaves it."""
    _buffer().entries.append((event_type, render, buyer_id))


def emit_stock_change(
    *,
    product_id: int,
    delta: int,
    quantity_after: int,
    reason: str,
    order: int | None,
    render_product: Render,
) -> None:
    """Record a change of a product's stock. One `product.stock_changed` per product per
    transaction (deltas add up), plus `product.out_of_stock` / `product.back_in_stock` when
    the transaction as a whole takes the stock to 0 or away from it."""
    buffer = _buffer()
    change = buffer.stock.get(product_id)
    if change is None:
        change = _StockChange(
            product_id=product_id,
            before=quantity_after - delta,
            after=quantity_after,
            delta=delta,
            reason=reason,
            order=order,
            render_product=render_product,
        )
        buffer.stock[product_id] = change
        buffer.entries.append(change)
    else:
        change.delta += delta
        change.after = quantity_after
        change.reason = reason
        change.order = order if order is not None else change.order
        change.render_product = render_product


def flush(buffer: _Buffer) -> list[Event]:
    now = timezone.now()
    rows: list[Event] = []
    for entry in buffer.entries:
        if isinstance(entry, _StockChange):
            rows.extend(_stock_events(entry, now))
        else:
            event_type, render, buyer_id = entry
            rows.append(Event(type=event_type, data=render(), buyer_id=buyer_id, created_at=now))
    buffer.entries, buffer.stock = [], {}
    if not rows:
        return rows
    connection = connections[Event.objects.db]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [FEED_LOCK_KEY])
    return Event.objects.bulk_create(rows, batch_size=FLUSH_BATCH)


def _stock_events(change: _StockChange, now: Any) -> list[Event]:
    if change.delta == 0:
        return []
    rows = [
        Event(
            type=EventType.PRODUCT_STOCK_CHANGED,
            created_at=now,
            data={
                "product": change.product_id,
                "delta": change.delta,
                "reason": change.reason,
                "order": change.order,
                "quantity_after": change.after,
            },
        )
    ]
    if change.before > 0 and change.after == 0:
        rows.append(
            Event(type=EventType.PRODUCT_OUT_OF_STOCK, created_at=now, data=change.render_product())
        )
    elif change.before == 0 and change.after > 0:
        rows.append(
            Event(
                type=EventType.PRODUCT_BACK_IN_STOCK, created_at=now, data=change.render_product()
            )
        )
    return rows
