"""Order list query parameters. They narrow the orders the caller may see; who may see
which order is `orders.selectors.order_scope`'s rule alone."""

from typing import Any

import django_filters
from django.db.models import QuerySet

from opply.filters import FilterSet, StrictBooleanFilter
from opply.limits import MAX_ID
from orders.models import Order


class OwnOrdersUnlessAll(StrictBooleanFilter):
    """`all`: absent or false lists the caller's own orders (staff included); `true`, or a
    `user` filter, lists every order in scope (everyone's for staff, still one's own for a
    buyer)."""

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        parent = self.parent
        if value or parent.form.cleaned_data.get("user") is not None:
            return qs
        return qs.filter(user_id=parent.request.user.pk)


class OrderFilter(FilterSet):
    """`status`, `po_number` (exact); staff may add `all=true` (everyone's orders) or
    `user=<id>` (a `buyer.id`)."""

    status = django_filters.ChoiceFilter(choices=Order.Status.choices)
    po_number = django_filters.CharFilter(
        field_name="po_number", max_length=35, label="Purchase-order number (exact)"
    )
    user = django_filters.NumberFilter(field_name="user_id", min_value=1, max_value=MAX_ID)
    all = OwnOrdersUnlessAll(label="All users (staff)")

    class Meta:
        model = Order
        fields = ["status", "po_number", "user", "all"]
