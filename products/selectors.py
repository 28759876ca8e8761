"""Reads of the catalogue, scoped to what the caller may see."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from products.models import Product, StockMovement


def product_list_visible(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Product]:
    """Staff see the whole catalogue; everyone else only active products."""
    return products_visible(staff=bool(getattr(user, "is_staff", False)))


def products_visible(*, staff: bool) -> QuerySet[Product]:
    products = Product.objects.all()
    if not staff:
        products = products.filter(is_active=True)
    return products.order_by("id")


def stock_movement_list(*, product_id: int) -> QuerySet[StockMovement]:
    """A product's ledger, newest first."""
    return (
        StockMovement.objects.filter(product_id=product_id)
        .select_related("actor")
        .order_by("-created_at", "-id")
    )
