"""Catalogue writes: create, update and delete products. Stock changes among them go
through the ledger (`products.services.stock`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction

from products.models import Product, StockMovement
from products.services.stock import Actor, actor_id, apply_deltas, lock_one


def product_create(
    *,
    actor: Actor,
    name: str,
    price: Decimal,
    quantity_in_stock: int = 0,
    sku: str | None = None,
    is_active: bool = True,
) -> Product:
    """Create a product; its initial stock is recorded as an `initial` movement."""
    with transaction.atomic():
        product = Product.objects.create(
            name=name,
            price=price,
            quantity_in_stock=quantity_in_stock,
            sku=sku,
            is_active=is_active,
        )
        if quantity_in_stock:
            StockMovement.objects.create(
                product=product,
                delta=quantity_in_stock,
                reason=StockMovement.Reason.INITIAL,
                actor_id=actor_id(actor),
                quantity_after=quantity_in_stock,
            )
    return product


def product_update(*, product_id: int, actor: Actor, **fields: Any) -> Product:
    """Update a product's fields. A new `quantity_in_stock` is applied as an `adjustment`
    movement of the difference, computed under the product's row lock."""
    with transaction.atomic():
        product = lock_one(product_id)
        new_stock = fields.pop("quantity_in_stock", None)
        for name, value in fields.items():
            setattr(product, name, value)
        product.save()
        if new_stock is not None and new_stock != product.quantity_in_stock:
            apply_deltas(
                {product.pk: new_stock - product.quantity_in_stock},
                {product.pk: product},
                reason=StockMovement.Reason.ADJUSTMENT,
                actor=actor,
            )
    return product


def product_delete(*, product_id: int) -> None:
    """Delete a product and its ledger. Raises ProtectedError while any order line refers to it."""
    with transaction.atomic():
        lock_one(product_id).delete()
