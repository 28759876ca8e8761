"""Every write to carts and orders.

Locking order, everywhere: the order row first, then products by ascending id (inside
`products.services.stock_take` / `stock_return`). Stock changes go through products'
services, which write the ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from opply.exceptions import DomainError, IllegalTransition, InsufficientStock, NotFound
from orders import pricing
from orders.models import Order, OrderLine
from orders.selectors import order_scope
from products.models import Product
from products.services import stock_return, stock_take


class OrderTotalTooLarge(DomainError):
    code = "order_total_too_large"
    detail = "The order's total is larger than an order can record; split it into smaller orders."


class OrderEmpty(DomainError):
    code = "order_empty"
    detail = "The order has no lines; add a product before submitting."


class OrderNotActive(DomainError):
    code = "order_not_active"

    def __init__(self, order: Order) -> None:
        super().__init__(
            f"Order {order.pk} is {order.status}; only an active order can be submitted.",
            status=order.status,
            current=order.status,
            target=Order.Status.SUBMITTED.value,
        )


class ProductInactive(DomainError):
    code = "product_inactive"
    detail = "This product is not available for ordering."


class LineNotInOrder(NotFound):
    code = "not_in_order"
    detail = "This product is not in your active order."


class ItemRequest(TypedDict):
    product: int
    quantity: int


def order_get_or_create_active(*, user: User) -> Order:
    """The user's active order, created if missing. Concurrent callers share one order: the
    partial unique index refuses a second, and the loser reads the winner's row."""
    order = Order.objects.filter(user=user, status=Order.Status.ACTIVE).first()
    if order is not None:
        return order
    try:
        with transaction.atomic():
            return Order.objects.create(user=user)
    except IntegrityError:
        return Order.objects.get(user=user, status=Order.Status.ACTIVE)


def order_add_item(*, user: User, product_id: int, quantity: int) -> Order:
    """Add `quantity` of a product to the user's active order, creating order and line as
    needed. Locks the order row; InsufficientStock if the line would exceed current stock."""
    with transaction.atomic():
        order = _lock_active_order(user, create=True)
        assert order is not None
        product = Product.objects.filter(pk=product_id).first()
        if product is None:
            raise NotFound("No such product.")
        if not product.is_active:
            raise ProductInactive()
        line = order.lines.filter(product_id=product_id).first()
        requested = (line.quantity if line else 0) + quantity
        if requested > product.quantity_in_stock:
            raise InsufficientStock(
                lines=[
                    {
                        "product": product_id,
                        "requested": requested,
                        "available": product.quantity_in_stock,
                    }
                ]
            )
        if line is None:
            OrderLine.objects.create(order=order, product=product, quantity=quantity)
        else:
            line.quantity = requested
            line.save(update_fields=["quantity"])
    return order


def order_remove_item(*, user: User, product_id: int, quantity: int) -> Order:
    """Take `quantity` of a product out of the user's active order; the line goes at 0.
    LineNotInOrder (404) when there is no such line."""
    with transaction.atomic():
        order = _lock_active_order(user, create=False)
        line = order.lines.filter(product_id=product_id).first() if order else None
        if order is None or line is None:
            raise LineNotInOrder()
        if line.quantity <= quantity:
            line.delete()
        else:
            line.quantity -= quantity
            line.save(update_fields=["quantity"])
    return order


def order_submit(*, user: User, order_id: int) -> Order:
    """Submit the user's active order, all or nothing.

    Locks the order row, then its products in ascending id order; checks every line;
    decrements stock and writes movements, freezes unit prices and the total, sets
    submitted_at. Raises NotFound (not the caller's), OrderNotActive, OrderEmpty, or
    InsufficientStock listing every short line, in which case nothing changes.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id, user=user).first()
        if order is None:
            raise NotFound("No such order.")
        if order.status != Order.Status.ACTIVE:
            raise OrderNotActive(order)
        lines = list(order.lines.all())
        if not lines:
            raise OrderEmpty()
        products = stock_take(
            quantities={line.product_id: line.quantity for line in lines},
            actor=user,
            order_id=order.pk,
        )
        for line in lines:
            line.unit_price = pricing.current_price(products[line.product_id])
        OrderLine.objects.bulk_update(lines, ["unit_price"])
        _mark_submitted(order, lines)
    return order


def order_place(*, user: User, items: Sequence[ItemRequest]) -> Order:
    """Create and submit an order in one step, with the same locking, ledger entries and
    errors as order_submit. The caller's active cart is untouched."""
    with transaction.atomic():
        order = Order.objects.create(
            user=user, status=Order.Status.SUBMITTED, submitted_at=timezone.now()
        )
        # created_at is stamped while saving, a moment later: never submitted before created.
        order.submitted_at = order.created_at
        products = stock_take(
            quantities={item["product"]: item["quantity"] for item in items},
            actor=user,
            order_id=order.pk,
        )
        lines = OrderLine.objects.bulk_create(
            [
                OrderLine(
                    order=order,
                    product_id=item["product"],
                    quantity=item["quantity"],
                    unit_price=pricing.current_price(products[item["product"]]),
                )
                for item in items
            ]
        )
        _mark_submitted(order, lines)
    return order


def order_cancel(*, actor: User, order_id: int) -> Order:
    """Cancel a submitted order and restore its stock (movements `cancel`). The owner or
    staff only; IllegalTransition from any other status."""
    with transaction.atomic():
        order = _lock_order_for(actor, order_id)
        if order.status != Order.Status.SUBMITTED:
            raise IllegalTransition(current=order.status, target=Order.Status.CANCELLED)
        stock_return(
            quantities={line.product_id: line.quantity for line in order.lines.all()},
            actor=actor,
            order_id=order.pk,
        )
        order.status = Order.Status.CANCELLED
        order.cancelled_at = timezone.now()
        order.save(update_fields=["status", "cancelled_at"])
    return order


def order_fulfil(*, actor: User, order_id: int) -> Order:
    """Mark a submitted order fulfilled (staff). IllegalTransition from any other status."""
    with transaction.atomic():
        order = _lock_order_for(actor, order_id)
        if order.status != Order.Status.SUBMITTED:
            raise IllegalTransition(current=order.status, target=Order.Status.FULFILLED)
        order.status = Order.Status.FULFILLED
        order.fulfilled_at = timezone.now()
        order.save(update_fields=["status", "fulfilled_at"])
    return order


def _lock_active_order(user: User, *, create: bool) -> Order | None:
    order = Order.objects.select_for_update().filter(user=user, status=Order.Status.ACTIVE).first()
    if order is None and create:
        order_get_or_create_active(user=user)
        order = Order.objects.select_for_update().get(user=user, status=Order.Status.ACTIVE)
    return order


def _lock_order_for(actor: User, order_id: int) -> Order:
    """The order locked, if the actor owns it or is staff; NotFound otherwise."""
    order = order_scope(user=actor).select_for_update().filter(pk=order_id).first()
    if order is None:
        raise NotFound("No such order.")
    return order


def _mark_submitted(order: Order, lines: Sequence[OrderLine]) -> None:
    total = pricing.sum_lines((pricing.line_unit_price(line), line.quantity) for line in lines)
    if total > pricing.MAX_TOTAL:
        raise OrderTotalTooLarge(
            total=pricing.money(total), maximum=pricing.money(pricing.MAX_TOTAL)
        )
    order.total_amount = total
    order.status = Order.Status.SUBMITTED
    order.submitted_at = order.submitted_at or timezone.now()
    order.save(update_fields=["total_amount", "status", "submitted_at"])
