"""Catalogue writes: create, update and delete products. Stock changes among them go
through the ledger (`products.services.stock`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from events.models import EventType
from events.outbox import emit, emit_stock_change, outbox_atomic
from opply.conditional import IfMatch
from products.counts import catalogue_changed
from products.models import Product, StockMovement
from products.services.stock import Actor, actor_id, lock_one, movement_of, product_data


def product_create(
    *,
    actor: Actor,
    name: str,
    price: Decimal,
    quantity_in_stock: int = 0,
    sku: str | None = None,
    is_active: bool = True,
    min_order_quantity: int = 1,
    order_increment: int = 1,
    max_order_quantity: int | None = None,
) -> Product:
    """Create a product; its initial stock is recorded as an `initial` movement. The
    quantity rules must be coherent (`products.rules.rule_problems`); the database's check
    constraints refuse them otherwise. Events: product.created (and product.stock_changed,
    back_in_stock for an initial stock)."""
    with outbox_atomic():
        catalogue_changed()
        product = Product.objects.create(
            name=name,
            price=price,
            quantity_in_stock=quantity_in_stock,
            sku=sku,
            is_active=is_active,
            min_order_quantity=min_order_quantity,
            order_increment=order_increment,
            max_order_quantity=max_order_quantity,
        )
        if quantity_in_stock:
            StockMovement.objects.create(
                product=product,
                delta=quantity_in_stock,
                reason=StockMovement.Reason.INITIAL,
                actor_id=actor_id(actor),
                quantity_after=quantity_in_stock,
            )
        emit(EventType.PRODUCT_CREATED, lambda: product_data(product))
        if quantity_in_stock:
            emit_stock_change(
                product_id=product.pk,
                delta=quantity_in_stock,
                quantity_after=quantity_in_stock,
                reason=StockMovement.Reason.INITIAL,
                order=None,
                render_product=lambda: product_data(product),
            )
    return product


def product_update(
    *, product_id: int, actor: Actor, if_match: IfMatch | None = None, **fields: Any
) -> Product:
    """Update a product's fields under its row lock, its version +1 in the same statement
    (a write that changes nothing leaves the row and its version alone).
    PreconditionFailed (nothing changed) when `if_match` does not accept the version found
    under the lock. A new `quantity_in_stock` is recorded as an `adjustment` movement of the
    difference. Events: product.updated, and the stock events of a stock change."""
    with outbox_atomic():
        catalogue_changed()
        product = lock_one(product_id)
        if if_match is not None:
            if_match.require(product.version)
        old_stock = product.quantity_in_stock
        changed = [name for name, value in fields.items() if getattr(product, name) != value]
        if not changed:
            return product  # nothing to write: the version stays
        for name in changed:
            setattr(product, name, fields[name])
        product.version += 1
        product.save()
        if product.quantity_in_stock != old_stock:
            movement = movement_of(
                product,
                product.quantity_in_stock - old_stock,
                reason=StockMovement.Reason.ADJUSTMENT,
                actor=actor,
            )
            movement.save()
            emit_stock_change(
                product_id=product.pk,
                delta=movement.delta,
                quantity_after=movement.quantity_after,
                reason=StockMovement.Reason.ADJUSTMENT,
                order=None,
                render_product=lambda: product_data(product),
            )
        emit(EventType.PRODUCT_UPDATED, lambda: product_data(product))
    return product


def product_delete(*, product_id: int, if_match: IfMatch | None = None) -> None:
    """Delete a product and its ledger, under its row lock. PreconditionFailed when
    `if_match` does not accept its version; ProtectedError while any order line refers to it.
    Event: product.deleted, its data the product as it was."""
    with outbox_atomic():
        catalogue_changed()
        product = lock_one(product_id)
        if if_match is not None:
            if_match.require(product.version)
        data = product_data(product)
        product.delete()
        emit(EventType.PRODUCT_DELETED, lambda: data)
