"""Catalogue endpoints: thin views over products' selectors and services."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response

from opply.idempotency import idempotent
from opply.limits import ID_PATTERN
from opply.permissions import IsStaffOrReadOnly
from opply.schema import error
from opply.viewsets import ListFilteredViewSet
from products import selectors, services
from products.filters import ProductFilter
from products.models import Product
from products.serializers import ProductSerializer, StockMovementSerializer


@extend_schema_view(
    list=extend_schema(
        summary="List products",
        description=(
            "Paginated and ordered by id unless `ordering` says otherwise (ties broken by id). "
            "Buyers see active products only. An invalid filter value is a 400 naming it."
        ),
        parameters=[
            OpenApiParameter(
                "search", OpenApiTypes.STR, description="Part of the name or sku, any case."
            ),
            OpenApiParameter(
                "in_stock",
                OpenApiTypes.BOOL,
                description="`true`: stock above 0; `false`: out of stock.",
            ),
        ],
    ),
    retrieve=extend_schema(summary="Get one product"),
    update=extend_schema(
        summary="Replace a product (staff)",
        description="A new `quantity_in_stock` is recorded in the ledger as an adjustment.",
    ),
    partial_update=extend_schema(
        summary="Update a product (staff)",
        description="A new `quantity_in_stock` is recorded in the ledger as an adjustment.",
    ),
)
class ProductViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    ListFilteredViewSet[Product],
):
    """The catalogue. Everyone signed in reads it; only staff change it."""

    serializer_class = ProductSerializer
    permission_classes = [IsStaffOrReadOnly]
    filterset_class = ProductFilter
    lookup_value_regex = ID_PATTERN

    def get_queryset(self) -> QuerySet[Product]:
        return selectors.product_list_visible(user=self.request.user)

    @extend_schema(
        summary="Create a product (staff)",
        description="Its initial stock is recorded in the ledger.",
        responses={201: ProductSerializer},
    )
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = ProductSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        product = services.product_create(actor=request.user, **serializer.validated_data)
        return Response(ProductSerializer(product).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        serializer = ProductSerializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        product = services.product_update(
            product_id=instance.pk, actor=request.user, **serializer.validated_data
        )
        return Response(ProductSerializer(product).data)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    @extend_schema(
        summary="Delete a product (staff)",
        responses={
            204: None,
            409: error("`protected`: an order still refers to it; deactivate it instead."),
        },
    )
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.product_delete(product_id=self.get_object().pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="A product's stock ledger (staff)",
        description="Every change of the product's stock, newest first.",
        filters=False,
        responses={200: StockMovementSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], permission_classes=[IsAdminUser])
    def stock_movements(self, request: Request, pk: str | None = None) -> Response:
        movements = selectors.stock_movement_list(product_id=self.get_object().pk)
        page = self.paginate_queryset(movements)  # type: ignore[arg-type]
        return self.get_paginated_response(StockMovementSerializer(page, many=True).data)
