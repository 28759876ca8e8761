"""Reads of orders, scoped to the caller, with their lines and products in two queries."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Prefetch, QuerySet

from orders.models import Order, OrderLine


def _with_lines(orders: QuerySet[Order]) -> QuerySet[Order]:
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
    return orders.prefetch_related(Prefetch("lines", queryset=lines)).order_by("-created_at", "-id")


def order_list_visible(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Order]:
    """Every order the caller may see: their own, or everyone's for staff."""
    orders = Order.objects.all()
    if not getattr(user, "is_staff", False):
        orders = orders.filter(user_id=user.pk or 0)
    return _with_lines(orders)


def order_with_lines(*, order: Order) -> Order:
    """The order reloaded with its lines, ready to serialize."""
    return _with_lines(Order.objects.filter(pk=order.pk)).get()
