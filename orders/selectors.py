"""Reads of orders, scoped to the caller, with their lines and products in two queries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Prefetch, QuerySet, prefetch_related_objects

from opply.prepared import PreparedRead
from orders.models import Order, OrderLine


def _lines() -> Prefetch[Any]:
    lines = (
        OrderLine.objects.select_related("product")
        .only(
            "id",
            "order_id",
            "quantity",
            "unit_price",
            "product__id",
            "product__name",
            "product__price",
        )
        .order_by("id")
    )
    return Prefetch("lines", queryset=lines)


def _with_lines(orders: QuerySet[Order]) -> QuerySet[Order]:
    return orders.select_related("user").prefetch_related(_lines()).order_by("-created_at", "-id")


def order_scope(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Order]:
    """Every order the caller may see: their own, or everyone's for staff. The one place
    this rule lives; reads and the services' row locks both start from it."""
    if getattr(user, "is_staff", False):
        return Order.objects.all()
    return Order.objects.filter(user_id=user.pk or 0)


def order_list_visible(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Order]:
    """The orders the caller may see, with their lines."""
    return _with_lines(order_scope(user=user))


# An order's JSON fields as read from the database (values, not instances), and its lines'.
ORDER_ROW = (
    "id",
    "status",
    "total_amount",
    "created_at",
    "submitted_at",
    "cancelled_at",
    "fulfilled_at",
    "user_id",
    "user__username",
    "po_number",
    "note",
    "version",
)
LINE_ROW = ("order_id", "product_id", "product__name", "quantity", "unit_price", "product__price")


def order_rows_with_lines(
    orders: list[tuple[Any, ...]],
) -> list[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    """ORDER_ROW values of a page of orders, each with its LINE_ROW values, in one query
    (SQL built once per connection for each number of orders)."""
    lines: dict[int, list[tuple[Any, ...]]] = {order[0]: [] for order in orders}
    if lines:
        for line in _lines_of_orders(len(lines)).rows(*lines):
            lines[line[0]].append(line)
    return [(order, lines[order[0]]) for order in orders]


def _lines_in(*order_ids: int) -> QuerySet[Any]:
    return OrderLine.objects.filter(order_id__in=order_ids).order_by("id").values_list(*LINE_ROW)


# The lines of a page of orders: one prepared read per number of orders on the page (an
# `IN` list's SQL has a placeholder per order), so at most a page size's worth of them.
_LINES_OF_ORDERS: dict[int, PreparedRead] = {}


def _lines_of_orders(count: int) -> PreparedRead:
    read = _LINES_OF_ORDERS.get(count)
    if read is None:
        read = _LINES_OF_ORDERS[count] = PreparedRead(
            f"lines-of-{count}-orders", _lines_in, *[int] * count
        )
    return read


_ACTIVE_ORDER = PreparedRead(
    "active-order",
    lambda user_id: Order.objects.filter(user_id=user_id, status=Order.Status.ACTIVE).values_list(
        *ORDER_ROW
    ),
    int,
)
_ORDER_LINES = PreparedRead(
    "order-lines",
    lambda order_id: (
        OrderLine.objects.filter(order_id=order_id).order_by("id").values_list(*LINE_ROW)
    ),
    int,
)


def active_order_row(*, user_id: int) -> tuple[Any, ...] | None:
    """The user's active order as ORDER_ROW values, if there is one (at most one: the partial
    unique index), with SQL built once per connection."""
    found = _ACTIVE_ORDER.rows(user_id)
    return found[0] if found else None


def order_row_with_lines(row: tuple[Any, ...]) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    """One order's ORDER_ROW values with its LINE_ROW values, SQL built once per connection."""
    return row, _ORDER_LINES.rows(row[0])


def order_with_lines(*, order: Order) -> Order:
    """The order reloaded with its lines, ready to serialize."""
    return _with_lines(Order.objects.filter(pk=order.pk)).get()


def order_load_lines(*, order: Order) -> Order:
    """An order just read from the database, with its lines loaded in one more query."""
    prefetch_related_objects([order], _lines())
    return order


def order_with_given_lines(*, order: Order, lines: Sequence[OrderLine]) -> Order:
    """The order with `lines` (their products already set) as its loaded lines, so that it
    serializes without a query. For services that hold the lines they just wrote."""
    loaded = OrderLine.objects.filter(order=order).order_by("id")
    loaded._result_cache = sorted(lines, key=lambda line: line.pk)
    loaded._prefetch_done = True  # type: ignore[attr-defined]
    order._prefetched_objects_cache = {"lines": loaded}  # type: ignore[attr-defined]
    return order
