"""Quantity rules of a product (case packs, minimums, maximums): which settings are
coherent, which line quantities they allow and which allowed quantities lie nearest to one
that is not. One home for the rule: the model, the API, the admin, the import and the order
services all ask here."""

from __future__ import annotations

from typing import Any, Protocol


class HasQuantityRules(Protocol):
    pk: Any
    min_order_quantity: int
    order_increment: int
    max_order_quantity: int | None


def rule_problems(
    *, min_order_quantity: int, order_increment: int, max_order_quantity: int | None
) -> dict[str, str]:
    """What is wrong with a set of rules, by field; empty when they are coherent."""
    problems: dict[str, str] = {}
    if order_increment < 1:
        problems["order_increment"] = "Must be at least 1."
    if min_order_quantity < 1:
        problems["min_order_quantity"] = "Must be at least 1."
    elif order_increment >= 1 and min_order_quantity % order_increment:
        problems["min_order_quantity"] = (
            f"Must be a multiple of the order increment ({order_increment})."
        )
    if max_order_quantity is not None:
        if max_order_quantity < max(min_order_quantity, 1):
            problems["max_order_quantity"] = (
                f"Must be empty or at least the minimum order quantity ({min_order_quantity})."
            )
        elif order_increment >= 1 and max_order_quantity % order_increment:
            problems["max_order_quantity"] = (
                f"Must be a multiple of the order increment ({order_increment})."
            )
    return problems


def is_valid_quantity(product: HasQuantityRules, quantity: int) -> bool:
    top = product.max_order_quantity
    return (
        quantity >= product.min_order_quantity
        and (top is None or quantity <= top)
        and quantity % product.order_increment == 0
    )


def nearest_valid(product: HasQuantityRules, quantity: int) -> tuple[int | None, int | None]:
    """The largest valid quantity below `quantity` and the smallest above it (None where
    there is none). Valid quantities are the multiples of the increment from min to max."""
    low, step, top = product.min_order_quantity, product.order_increment, product.max_order_quantity
    below = None if quantity <= low else (quantity - 1) // step * step
    if below is not None and top is not None:
        below = min(below, top)
    above: int | None = low if quantity < low else (quantity // step + 1) * step
    if top is not None and above is not None and above > top:
        above = None
    return below, above


def quantity_violation(product: HasQuantityRules, quantity: int) -> dict[str, Any] | None:
    """The body of a broken rule for one line (`quantity_rule` / `quantity_rules`), or None."""
    if is_valid_quantity(product, quantity):
        return None
    return {
        "product": product.pk,
        "quantity": quantity,
        "min_order_quantity": product.min_order_quantity,
        "order_increment": product.order_increment,
        "max_order_quantity": product.max_order_quantity,
        "nearest": list(nearest_valid(product, quantity)),
    }
