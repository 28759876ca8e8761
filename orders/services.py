"""Every write to carts and orders.

Locking order, everywhere: the order row first, then products by ascending id (inside
`products.services.stock_take` / `stock_return`). Stock changes go through products'
services, which write the ledger.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TypedDict

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from events.models import EventType
from events.outbox import emit, outbox_atomic
from opply.conditional import IfMatch
from opply.db.bulk import update_by_id
from opply.exceptions import (
    DomainError,
    IllegalTransition,
    InsufficientStock,
    NotFound,
    QuantityRuleBroken,
)
from orders import pricing
from orders.models import Order, OrderLine
from orders.selectors import order_scope, order_with_given_lines, order_with_lines
from orders.serializers import OrderSerializer
from products.models import Product
from products.rules import quantity_violation
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


class OrderFrozen(DomainError):
    code = "order_frozen"

    def __init__(self, order: Order) -> None:
        super().__init__(
            f"Order {order.pk} is {order.status}; its PO number and note can no longer change.",
            status=order.status,
        )


class DuplicatePoNumber(DomainError):
    code = "duplicate_po_number"

    def __init__(self, *, po_number: str, order_id: int | None) -> None:
        super().__init__(
            f"Your order {order_id} already carries PO number {po_number!r}; use another "
            "(a cancelled order frees its number).",
            po_number=po_number,
            order=order_id,
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
    # A new cart's version continues from the buyer's highest, so the ETag of
    # /orders/current/ never repeats one that a client saw on an earlier cart.
    last = Order.objects.filter(user=user).aggregate(last=Max("version"))["last"] or 0
    try:
        with transaction.atomic():
            return Order.objects.create(user=user, version=last + 1)
    except IntegrityError:
        return Order.objects.get(user=user, status=Order.Status.ACTIVE)


def order_add_item(
    *, user: User, product_id: int, quantity: int | None, if_match: IfMatch | None = None
) -> Order:
    """Add `quantity` of a product to the user's active order, creating order and line as
    needed; without a quantity, the smallest valid step (the product's minimum for a new
    line, its increment for an existing one). Locks the order row; PreconditionFailed when
    `if_match` does not accept the order's version, QuantityRuleBroken if the line would
    break the product's quantity rules, InsufficientStock if it would exceed current stock.
    """
    with transaction.atomic():
        order = _lock_active_order(user, create=True)
        assert order is not None
        if if_match is not None:
            if_match.require(order.version)
        product = Product.objects.filter(pk=product_id).first()
        if product is None:
            raise NotFound("No such product.")
        if not product.is_active:
            raise ProductInactive()
        line = order.lines.filter(product_id=product_id).first()
        if quantity is None:
            quantity = product.order_increment if line else product.min_order_quantity
        requested = (line.quantity if line else 0) + quantity
        if violation := quantity_violation(product, requested):
            raise QuantityRuleBroken(**violation)
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
        _touch(order)
    return order


def order_remove_item(
    *, user: User, product_id: int, quantity: int | None, if_match: IfMatch | None = None
) -> Order:
    """Take `quantity` of a product out of the user's active order; the line goes at 0.
    Without a quantity, one increment, or the whole line when less than the product's
    minimum would remain. Locks the order row; LineNotInOrder (404) when there is no such
    line, PreconditionFailed as order_add_item, QuantityRuleBroken when what remains is
    neither 0 nor a valid quantity."""
    with transaction.atomic():
        order = _lock_active_order(user, create=False)
        if order is not None and if_match is not None:
            if_match.require(order.version)
        line = (
            order.lines.select_related("product").filter(product_id=product_id).first()
            if order
            else None
        )
        if order is None or line is None:
            raise LineNotInOrder()
        product = line.product
        if quantity is None:
            remaining = line.quantity - product.order_increment
            if remaining < product.min_order_quantity:
                remaining = 0
        else:
            remaining = max(line.quantity - quantity, 0)
        if remaining and (violation := quantity_violation(product, remaining)):
            raise QuantityRuleBroken(**violation)
        if remaining == 0:
            line.delete()
        else:
            line.quantity = remaining
            line.save(update_fields=["quantity"])
        _touch(order)
    return order


def order_update(
    *,
    user: User,
    order_id: int | None,
    po_number: str | None = None,
    note: str | None = None,
    if_match: IfMatch | None = None,
) -> Order:
    """Set the PO number and/or note of the user's active order (`order_id` None: the active
    order, created if missing). Locks the order row; NotFound unless it is the user's own,
    PreconditionFailed as order_add_item, OrderFrozen once it is submitted. The version goes
    up only when a value changes. A PO number is checked for uniqueness at submission."""
    with transaction.atomic():
        if order_id is None:
            order = _lock_active_order(user, create=True)
        else:
            order = Order.objects.select_for_update().filter(pk=order_id, user=user).first()
        if order is None:
            raise NotFound("No such order.")
        if if_match is not None:
            if_match.require(order.version)
        if order.status != Order.Status.ACTIVE:
            raise OrderFrozen(order)
        changed = _set_details(order, po_number=po_number, note=note)
        if changed:
            order.version += 1
            order.save(update_fields=[*changed, "version"])
    return order


def order_submit(
    *,
    user: User,
    order_id: int,
    po_number: str | None = None,
    note: str | None = None,
    if_match: IfMatch | None = None,
) -> Order:
    """Submit the user's active order, all or nothing.

    Locks the order row, then (with a PO number) the buyer's PO number in the partial unique
    index, then its products in ascending id order; checks every line;
    decrements stock and writes movements, freezes unit prices and the total, sets
    submitted_at and the PO number and note when given. Raises NotFound (not the caller's),
    PreconditionFailed (`if_match` refuses the order's version), OrderNotActive, OrderEmpty,
    QuantityRulesBroken or InsufficientStock listing every offending line, or
    DuplicatePoNumber; in each case nothing changes. Event: order.submitted (and the stock
    events).
    """
    with outbox_atomic():
        order = Order.objects.select_for_update().filter(pk=order_id, user=user).first()
        if order is None:
            raise NotFound("No such order.")
        if if_match is not None:
            if_match.require(order.version)
        if order.status != Order.Status.ACTIVE:
            raise OrderNotActive(order)
        _set_details(order, po_number=po_number, note=note)
        lines = list(order.lines.all())
        if not lines:
            raise OrderEmpty()
        if order.po_number:
            # Claim the PO number before any product lock, as order_place does by inserting
            # first: two transactions of one buyer then never wait for each other crosswise
            # (PO number held, product wanted / product held, PO number wanted).
            order.status = Order.Status.SUBMITTED
            order.submitted_at = timezone.now()
            with _po_number_guard(order):
                order.save(update_fields=["status", "submitted_at", "po_number", "note"])
        products = stock_take(
            quantities={line.product_id: line.quantity for line in lines},
            actor=user,
            order_id=order.pk,
            quantity_rules=True,
        )
        for line in lines:
            line.unit_price = pricing.current_price(products[line.product_id])
        update_by_id(OrderLine, ["unit_price"], [(line.pk, line.unit_price) for line in lines])
        _mark_submitted(order, lines)
        _emit_order(EventType.ORDER_SUBMITTED, order, user, lines, products)
    return order


def order_place(
    *, user: User, items: Sequence[ItemRequest], po_number: str = "", note: str = ""
) -> Order:
    """Create and submit an order in one step, with the same locking, ledger entries and
    errors as order_submit. The caller's active cart is untouched. Event: order.submitted."""
    with outbox_atomic():
        order = Order(
            user=user,
            status=Order.Status.SUBMITTED,
            submitted_at=timezone.now(),
            po_number=po_number,
            note=note,
        )
        with _po_number_guard(order):
            order.save(force_insert=True)
        # created_at is stamped while saving, a moment later: never submitted before created.
        order.submitted_at = order.created_at
        products = stock_take(
            quantities={item["product"]: item["quantity"] for item in items},
            actor=user,
            order_id=order.pk,
            quantity_rules=True,
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
        _emit_order(EventType.ORDER_SUBMITTED, order, user, lines, products)
    return order


def order_cancel(*, actor: User, order_id: int) -> Order:
    """Cancel a submitted order and restore its stock (movements `cancel`). The owner or
    staff only; IllegalTransition from any other status. Event: order.cancelled (and the
    stock events)."""
    with outbox_atomic():
        order = _lock_order_for(actor, order_id)
        if order.status != Order.Status.SUBMITTED:
            raise IllegalTransition(current=order.status, target=Order.Status.CANCELLED)
        lines = list(order.lines.all())
        products = stock_return(
            quantities={line.product_id: line.quantity for line in lines},
            actor=actor,
            order_id=order.pk,
        )
        order.status = Order.Status.CANCELLED
        order.cancelled_at = timezone.now()
        order.version += 1
        order.save(update_fields=["status", "cancelled_at", "version"])
        _emit_order(EventType.ORDER_CANCELLED, order, None, lines, products)
    return order


def order_fulfil(*, actor: User, order_id: int) -> Order:
    """Mark a submitted order fulfilled (staff). IllegalTransition from any other status.
    Event: order.fulfilled."""
    with outbox_atomic():
        order = _lock_order_for(actor, order_id)
        if order.status != Order.Status.SUBMITTED:
            raise IllegalTransition(current=order.status, target=Order.Status.FULFILLED)
        order.status = Order.Status.FULFILLED
        order.fulfilled_at = timezone.now()
        order.version += 1
        order.save(update_fields=["status", "fulfilled_at", "version"])
        emit(
            EventType.ORDER_FULFILLED,
            lambda: OrderSerializer(order_with_lines(order=order)).data,
            buyer_id=order.user_id,
        )
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


def _emit_order(
    event_type: str,
    order: Order,
    user: User | None,
    lines: Sequence[OrderLine],
    products: dict[int, Product],
) -> None:
    """The order's event, rendered from the lines and locked products in hand (no query)."""
    if user is not None:
        order.user = user
    for line in lines:
        line.product = products[line.product_id]
    emit(
        event_type,
        lambda: OrderSerializer(order_with_given_lines(order=order, lines=lines)).data,
        buyer_id=order.user_id,
    )


def _mark_submitted(order: Order, lines: Sequence[OrderLine]) -> None:
    total = pricing.sum_lines((pricing.line_unit_price(line), line.quantity) for line in lines)
    if total > pricing.MAX_TOTAL:
        raise OrderTotalTooLarge(
            total=pricing.money(total), maximum=pricing.money(pricing.MAX_TOTAL)
        )
    order.total_amount = total
    order.status = Order.Status.SUBMITTED
    order.submitted_at = order.submitted_at or timezone.now()
    order.version += 1
    # A PO number was claimed before the products were locked (order_submit, order_place).
    order.save(
        update_fields=["total_amount", "status", "submitted_at", "po_number", "note", "version"]
    )


def _touch(order: Order) -> None:
    """A line of the locked order changed: the order's version goes up."""
    order.version += 1
    order.save(update_fields=["version"])


def _set_details(order: Order, *, po_number: str | None, note: str | None) -> list[str]:
    """Set the given references on `order` (unsaved); the names of those that changed."""
    changed = []
    for name, value in (("po_number", po_number), ("note", note)):
        if value is not None and getattr(order, name) != value:
            setattr(order, name, value)
            changed.append(name)
    return changed


@contextmanager
def _po_number_guard(order: Order) -> Iterator[None]:
    """Around the write that makes `order` submitted: the database's partial unique index
    refuses a PO number the buyer already used, even when two submits race; that refusal
    becomes DuplicatePoNumber naming the order that has it. Without a PO number there is
    nothing to guard and no savepoint is spent."""
    if not order.po_number:
        yield
        return
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        holder = (
            Order.objects.filter(
                user_id=order.user_id,
                po_number=order.po_number,
                status__in=[Order.Status.SUBMITTED, Order.Status.FULFILLED],
            )
            .exclude(pk=order.pk)
            .values_list("pk", flat=True)
            .first()
        )
        if holder is None:
            raise
        raise DuplicatePoNumber(po_number=order.po_number, order_id=holder) from None
