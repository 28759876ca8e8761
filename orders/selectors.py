"""Reads of orders, scoped to the caller, with their lines and products in two queries."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Prefetch, QuerySet, prefetch_related_objects

from orders.models import Order, OrderLine


def _lines() -> Prefetch[Any]:
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
    return Prefetch("lines", queryset=lines)


def _with_lines(orders: QuerySet[Order]) -> QuerySet[Order]:
    return orders.prefetch_related(_lines()).order_by("-created_at", "-id")


def order_list_visible(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Order]:
    """Every order the caller may see: their own, or everyone's for staff."""
    orders = Order.objects.all()
    if not getattr(user, "is_staff", False):
        orders = orders.filter(user_id=user.pk or 0)
    return _with_lines(orders)


def order_with_lines(*, order: Order) -> Order:
    """The order reloaded with its lines, ready to serialize."""
    return _with_lines(Order.objects.filter(pk=order.pk)).get()


def order_load_lines(*, order: Order) -> Order:
    """An order just read from the database, with its lines loaded in one more query."""
    prefetch_related_objects([order], _lines())
    return order
