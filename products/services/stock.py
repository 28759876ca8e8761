"""The stock ledger: every change of `quantity_in_stock` goes through here and writes a
movement in the same transaction. Locks are taken in ascending product id order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Sum
from django.utils import timezone

from events.outbox import emit_stock_change, outbox_atomic
from opply.db.bulk import update_by_id
from opply.exceptions import DomainError, InsufficientStock, NotFound, QuantityRulesBroken
from products.counts import catalogue_changed
from products.models import MAX_STOCK, Product, StockMovement
from products.rules import quantity_violation
from products.serializers import ProductSerializer

Actor = AbstractBaseUser | AnonymousUser | None
Reason = StockMovement.Reason


class StockLimitExceeded(DomainError):
    code = "stock_limit_exceeded"
    detail = "The stock would exceed the largest quantity a product can hold."


def actor_id(actor: Actor) -> int | None:
    return actor.pk if actor is not None and actor.is_authenticated else None


def stock_adjust(
    *, product_id: int, delta: int, actor: Actor, note: str = "", reason: Reason = Reason.ADJUSTMENT
) -> StockMovement:
    """Change one product's stock by a signed delta; InsufficientStock if it would go below 0.
    ValueError for a zero delta: the ledger holds no empty movements."""
    if delta == 0:
        raise ValueError("A stock adjustment needs a non-zero delta.")
    with outbox_atomic():
        product = lock_one(product_id)
        if product.quantity_in_stock + delta < 0:
            raise InsufficientStock(
                lines=[
                    {
                        "product": product.pk,
                        "requested": -delta,
                        "available": product.quantity_in_stock,
                    }
                ]
            )
        return apply_deltas(
            {product.pk: delta}, {product.pk: product}, reason=reason, actor=actor, note=note
        )[0]


def stock_reconcile(*, product_id: int, actor: Actor, note: str = "") -> StockMovement | None:
    """Make the ledger explain the product's stock: when the stock differs from the sum of
    its movements (a write that bypassed these services), write one `reconcile` movement of
    the difference. The stock itself, which buyers are sold against, is left as it is.
    Locks the product row, so the sum cannot move meanwhile; None when nothing differs. The
    stock does not change, so no stock event is emitted."""
    with outbox_atomic():
        product = lock_one(product_id)
        ledger = product.movements.aggregate(total=Sum("delta"))["total"] or 0
        difference = product.quantity_in_stock - ledger
        if difference == 0:
            return None
        return StockMovement.objects.create(
            product=product,
            delta=difference,
            reason=Reason.RECONCILE,
            actor_id=actor_id(actor),
            note=note,
            quantity_after=product.quantity_in_stock,
        )


def stock_take(
    *,
    quantities: Mapping[int, int],
    actor: Actor,
    order_id: int | None,
    reason: Reason = Reason.SUBMIT,
    quantity_rules: bool = False,
) -> dict[int, Product]:
    """Take stock for many products at once, all or nothing.

    Locks the products in ascending id order (SELECT ... FOR UPDATE). With `quantity_rules`,
    first checks every quantity against its product's rules as they stand under the lock
    and raises QuantityRulesBroken listing every line that breaks them. Then checks every
    line's stock and raises InsufficientStock listing every short one (an inactive or
    missing product has nothing available). Otherwise decrements all of them and writes
    their movements with a constant number of queries. Returns the locked products by id.
    Must run inside the caller's transaction, after the caller's own locks.
    """
    with outbox_atomic():
        return _take(
            quantities, actor=actor, order_id=order_id, reason=reason, quantity_rules=quantity_rules
        )


def _take(
    quantities: Mapping[int, int],
    *,
    actor: Actor,
    order_id: int | None,
    reason: Reason,
    quantity_rules: bool,
) -> dict[int, Product]:
    products = _lock_many(quantities)
    if quantity_rules:
        broken = [
            violation
            for product_id, requested in sorted(quantities.items())
            if (product := products.get(product_id)) is not None
            and product.is_active
            and (violation := quantity_violation(product, requested)) is not None
        ]
        if broken:
            raise QuantityRulesBroken(lines=broken)
    short = [
        {
            "product": product_id,
            "requested": requested,
            "available": _available(products.get(product_id)),
        }
        for product_id, requested in sorted(quantities.items())
        if requested > _available(products.get(product_id))
    ]
    if short:
        raise InsufficientStock(lines=short)
    apply_deltas(
        {pk: -requested for pk, requested in quantities.items()},
        products,
        reason=reason,
        actor=actor,
        order_id=order_id,
    )
    return products


def stock_return(
    *,
    quantities: Mapping[int, int],
    actor: Actor,
    order_id: int | None,
    reason: Reason = Reason.CANCEL,
) -> dict[int, Product]:
    """Give stock back for many products at once (a cancelled order), with movements.
    Locks in ascending id order; must run inside the caller's transaction. Returns the
    locked products by id."""
    with outbox_atomic():
        products = _lock_many(quantities)
        apply_deltas(
            {pk: quantity for pk, quantity in quantities.items() if pk in products},
            products,
            reason=reason,
            actor=actor,
            order_id=order_id,
        )
    return products


def product_data(product: Product) -> dict[str, Any]:
    """The product as the API renders it (the data of its events)."""
    return dict(ProductSerializer(product).data)


def _available(product: Product | None) -> int:
    if product is None or not product.is_active:
        return 0
    return product.quantity_in_stock


def lock_one(product_id: int) -> Product:
    try:
        return Product.objects.select_for_update().get(pk=product_id)
    except Product.DoesNotExist as exc:
        raise NotFound("No such product.") from exc


def _lock_many(quantities: Mapping[int, int]) -> dict[int, Product]:
    locked = Product.objects.select_for_update().filter(pk__in=list(quantities)).order_by("pk")
    return {product.pk: product for product in locked}


def apply_deltas(
    deltas: Mapping[int, int],
    products: Mapping[int, Product],
    *,
    reason: Reason,
    actor: Actor,
    order_id: int | None = None,
    note: str = "",
) -> list[StockMovement]:
    """Write new stock (and the next version) and one movement per product: two statements
    whatever the count (opply/db/bulk.py). Emits the stock events; runs inside an
    `outbox_atomic` block."""
    now = timezone.now()
    changed = []
    movements = []
    for pk, delta in sorted(deltas.items()):
        if delta == 0:
            continue
        product = products[pk]
        if product.quantity_in_stock + delta > MAX_STOCK:
            raise StockLimitExceeded(
                f"Stock of product {pk} cannot go above {MAX_STOCK}.", product=pk
            )
        product.quantity_in_stock += delta
        product.updated_at = now
        # The row is locked: the next version is known, and written with the stock.
        product.version += 1
        changed.append(product)
        movements.append(
            movement_of(product, delta, reason=reason, actor=actor, order_id=order_id, note=note)
        )
    if changed:
        catalogue_changed()
        # One statement, the rows joined by id from a VALUES list; the version is raised in
        # it, as the in-memory copies were above (the rows are locked).
        update_by_id(
            Product,
            ["quantity_in_stock"],
            [(product.pk, product.quantity_in_stock) for product in changed],
            same={"updated_at": now},
            increment="version",
        )
        StockMovement.objects.bulk_create(movements)
    for product, movement in zip(changed, movements, strict=True):
        emit_stock_change(
            product_id=product.pk,
            delta=movement.delta,
            quantity_after=movement.quantity_after,
            reason=reason,
            order=order_id,
            render_product=lambda product=product: product_data(product),  # type: ignore[misc]
        )
    return movements


def movement_of(
    product: Product,
    delta: int,
    *,
    reason: str,
    actor: Actor,
    order_id: int | None = None,
    note: str = "",
) -> StockMovement:
    """The ledger entry of a change already applied to `product.quantity_in_stock`."""
    return StockMovement(
        product=product,
        delta=delta,
        reason=reason,
        order_id=order_id,
        actor_id=actor_id(actor),
        note=note,
        quantity_after=product.quantity_in_stock,
    )
