"""Cart and order endpoints: validate, call one service, return the order."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from opply.idempotency import idempotent
from opply.permissions import IsStaff, caller
from orders import selectors, services
from orders.filters import OrderFilter
from orders.models import Order
from orders.serializers import OrderSerializer, PlaceOrderSerializer, QuantitySerializer
from products.models import Product
from products.selectors import product_list_visible
from products.views import ID_PATTERN, IDEMPOTENCY_KEY

CONFLICT = OpenApiResponse(description="Conflict: insufficient stock or illegal state")
NOT_FOUND = OpenApiResponse(description="No such object visible to the caller")


def _order_response(order: Order, status_code: int = status.HTTP_200_OK) -> Response:
    return Response(
        OrderSerializer(selectors.order_with_lines(order=order)).data, status=status_code
    )


class OrderViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Order]
):
    """The caller's orders. Another user's order is a 404 by construction."""

    serializer_class = OrderSerializer
    permission_classes = [IsAuthenticated]
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = OrderFilter
    lookup_value_regex = ID_PATTERN

    def get_queryset(self) -> QuerySet[Order]:
        return selectors.order_list_visible(user=self.request.user)

    def filter_queryset(self, queryset: QuerySet[Order]) -> QuerySet[Order]:  # type: ignore[override]
        # List parameters narrow the list only; a single order is found among all visible.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    @extend_schema(
        request=PlaceOrderSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: OrderSerializer,
            400: OpenApiResponse(description="Invalid input"),
            409: CONFLICT,
        },
    )
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payload = PlaceOrderSerializer(data=request.data, context={"request": request})
        payload.is_valid(raise_exception=True)
        order = services.order_place(user=caller(request), items=payload.validated_data["items"])
        return _order_response(order, status.HTTP_201_CREATED)

    @extend_schema(responses={200: OrderSerializer})
    @action(detail=False, methods=["get"])
    def current(self, request: Request) -> Response:
        return _order_response(services.order_get_or_create_active(user=caller(request)))

    @extend_schema(
        request=None,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: OrderSerializer, 404: NOT_FOUND, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def submit(self, request: Request, pk: str) -> Response:
        return _order_response(services.order_submit(user=caller(request), order_id=int(pk)))

    @extend_schema(
        request=None,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: OrderSerializer, 404: NOT_FOUND, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def cancel(self, request: Request, pk: str) -> Response:
        return _order_response(services.order_cancel(actor=caller(request), order_id=int(pk)))

    @extend_schema(
        request=None,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: OrderSerializer, 404: NOT_FOUND, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"], permission_classes=[IsStaff])
    @idempotent
    def fulfil(self, request: Request, pk: str) -> Response:
        return _order_response(services.order_fulfil(actor=caller(request), order_id=int(pk)))


class ProductCartViewSet(viewsets.GenericViewSet[Product]):
    """`/products/{id}/add_to_order/` and `/remove_from_order/`: the caller's cart."""

    permission_classes = [IsAuthenticated]
    serializer_class = QuantitySerializer
    lookup_value_regex = ID_PATTERN
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Product]:
        return product_list_visible(user=self.request.user)

    @extend_schema(
        request=QuantitySerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: OrderSerializer, 404: NOT_FOUND, 409: CONFLICT},
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def add_to_order(self, request: Request, pk: str) -> Response:
        quantity = self._quantity(request)
        order = services.order_add_item(
            user=caller(request), product_id=self.get_object().pk, quantity=quantity
        )
        return _order_response(order)

    @extend_schema(
        request=QuantitySerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: OrderSerializer, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def remove_from_order(self, request: Request, pk: str) -> Response:
        # No visibility check: a product deactivated after it was added can still be removed.
        quantity = self._quantity(request)
        order = services.order_remove_item(
            user=caller(request), product_id=int(pk), quantity=quantity
        )
        return _order_response(order)

    def _quantity(self, request: Request) -> int:
        payload = QuantitySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        return int(payload.validated_data["quantity"])
