"""Catalogue endpoints: thin views over products' selectors and services."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from opply.idempotency import idempotent
from opply.permissions import IsStaff, IsStaffOrReadOnly
from products import selectors, services
from products.filters import ProductFilter
from products.models import Product
from products.serializers import ProductSerializer, StockMovementSerializer

ID_PATTERN = "[0-9]+"

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Retry-safe key (at most 255 characters); the first response is replayed.",
)


class ProductViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[Product],
):
    """The catalogue. Everyone signed in reads it; only staff change it."""

    serializer_class = ProductSerializer
    permission_classes = [IsStaffOrReadOnly]
    filterset_class = ProductFilter
    lookup_value_regex = ID_PATTERN

    def get_queryset(self) -> QuerySet[Product]:
        return selectors.product_list_visible(user=self.request.user)

    @extend_schema(
        parameters=[IDEMPOTENCY_KEY],
        responses={201: ProductSerializer, 400: OpenApiResponse(description="Invalid input")},
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
        responses={
            204: None,
            409: OpenApiResponse(description="Still referenced by an order; deactivate it"),
        }
    )
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.product_delete(product_id=self.get_object().pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={200: StockMovementSerializer(many=True)})
    @action(detail=True, methods=["get"], permission_classes=[IsStaff])
    def stock_movements(self, request: Request, pk: str | None = None) -> Response:
        movements = selectors.stock_movement_list(product_id=self.get_object().pk)
        page = self.paginate_queryset(movements)  # type: ignore[arg-type]
        return self.get_paginated_response(StockMovementSerializer(page, many=True).data)
