"""Catalogue query parameters: search, stock, price range and ordering."""

from typing import Any

import django_filters
from django.db.models import Q, QuerySet

from opply.filters import FilterSet, StrictBooleanFilter
from products.models import Product

ORDERING_FIELDS = ("name", "price", "quantity_in_stock", "id")


class StableOrderingFilter(django_filters.OrderingFilter):
    """Ordering whose ties are always broken by id, so pages never overlap."""

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        if not value:
            return qs
        fields = [self.get_ordering_value(param) for param in value]
        if not any(field.lstrip("-") == "id" for field in fields):
            fields.append("id")
        return qs.order_by(*fields)


class ProductFilter(FilterSet):
    search = django_filters.CharFilter(
        method="filter_search", max_length=200, label="Search in name and sku"
    )
    in_stock = StrictBooleanFilter(method="filter_in_stock", label="In stock")
    min_price = django_filters.NumberFilter(field_name="price", lookup_expr="gte", min_value=0)
    max_price = django_filters.NumberFilter(field_name="price", lookup_expr="lte", min_value=0)
    ordering = StableOrderingFilter(fields=ORDERING_FIELDS)

    class Meta:
        model = Product
        fields = ["search", "in_stock", "min_price", "max_price"]

    def filter_search(
        self, queryset: QuerySet[Product], name: str, value: str
    ) -> QuerySet[Product]:
        return queryset.filter(Q(name__icontains=value) | Q(sku__icontains=value))

    def filter_in_stock(
        self, queryset: QuerySet[Product], name: str, value: bool | None
    ) -> QuerySet[Product]:
        if value is None:
            return queryset
        return (
            queryset.filter(quantity_in_stock__gt=0)
            if value
            else queryset.filter(quantity_in_stock=0)
        )
