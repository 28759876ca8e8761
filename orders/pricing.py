"""What an order costs: the one place for its prices and totals.

A line's unit price is frozen when its order is submitted; until then (a cart) it is the
product's current price. An order's total is frozen with it; a cart's is the sum of its lines
at current prices. Services freeze prices with these functions, and serializers, the admin
and the benchmark's hand-written ceiling show them with the same ones. A discount or a price
list would change `unit_price` here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from opply.limits import CENT

if TYPE_CHECKING:
    from orders.models import Order, OrderLine
    from products.models import Product

# The largest total an order can record (total_amount: 14 digits, 2 of them decimals).
MAX_TOTAL = Decimal("999999999999.99")


def current_price(product: Product) -> Decimal:
    """What one unit of the product costs now: the price frozen into a line at submission."""
    return product.price


def unit_price(*, frozen: Decimal | None, current: Decimal) -> Decimal:
    """The price of one unit from raw columns: frozen at submission, else the current one."""
    return frozen if frozen is not None else current


def line_total(unit: Decimal, quantity: int) -> Decimal:
    return (unit * quantity).quantize(CENT)


def sum_lines(lines: Iterable[tuple[Decimal, int]]) -> Decimal:
    """The total of (unit price, quantity) pairs, in cents."""
    return sum((unit * quantity for unit, quantity in lines), Decimal(0)).quantize(CENT)


def line_unit_price(line: OrderLine) -> Decimal:
    """A line's unit price, as `unit_price`; reads `line.product` only while the price is
    not frozen, so submitted lines need no product."""
    if line.unit_price is not None:
        return line.unit_price
    return current_price(line.product)


def order_total(order: Order, lines: Iterable[OrderLine]) -> Decimal:
    """The frozen total of a placed order, or the running total of a cart's `lines`."""
    return order_total_of(
        status=order.status,
        frozen=order.total_amount,
        lines=((line_unit_price(line), line.quantity) for line in lines),
    )


def order_total_of(
    *, status: str, frozen: Decimal, lines: Iterable[tuple[Decimal, int]]
) -> Decimal:
    """`order_total` from raw columns (an order read as values): the frozen total unless the
    order is still a cart, then the sum of its (unit price, quantity) lines."""
    if status != "active":  # Order.Status.ACTIVE (no import of the models here)
        return frozen
    return sum_lines(lines)


def money(amount: Decimal) -> str:
    """An amount as the API writes it: a string with two decimals."""
    return f"{amount:.2f}"
