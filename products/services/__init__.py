"""Every write to products and their stock, by concern: `catalogue` (products themselves)
and `stock` (the ledger). The names below are the public surface other apps use."""

from products.services.catalogue import product_create, product_delete, product_update
from products.services.stock import (
    Actor,
    StockLimitExceeded,
    stock_adjust,
    stock_reconcile,
    stock_return,
    stock_take,
)

__all__ = [
    "Actor",
    "StockLimitExceeded",
    "product_create",
    "product_delete",
    "product_update",
    "stock_adjust",
    "stock_reconcile",
    "stock_return",
    "stock_take",
]
