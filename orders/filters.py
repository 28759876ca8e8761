"""Order list query parameters."""

from typing import Any

import django_filters
from django.db.models import QuerySet

from orders.models import Order
from products.filters import StrictBooleanFilter


class OrderFilter(django_filters.FilterSet):
    """`status`; staff may add `all=true` (everyone's orders) or `user=<id>`.

    Without either, the list is the caller's own orders, staff included.
    """

    status = django_filters.ChoiceFilter(choices=Order.Status.choices)
    user = django_filters.NumberFilter(field_name="user_id", min_value=1, max_value=2**63 - 1)
    all = StrictBooleanFilter(method="filter_all", label="All users (staff)")

    class Meta:
        model = Order
        fields = ["status", "user", "all"]

    @property
    def qs(self) -> QuerySet[Order]:
        orders: QuerySet[Order] = super().qs
        data = self.form.cleaned_data if self.is_bound and self.form.is_valid() else {}
        caller = self.request.user if self.request else None
        wants_others = bool(data.get("all")) or data.get("user") is not None
        if caller is not None and not (wants_others and caller.is_staff):
            orders = orders.filter(user_id=caller.pk)
        return orders

    def filter_all(self, queryset: QuerySet[Order], name: str, value: Any) -> QuerySet[Order]:
        return queryset
