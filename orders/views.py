"""Cart and order endpoints: validate, call one service, return the order."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from opply.conditional import conditional, if_match, version_etag
from opply.filters import unfiltered
from opply.idempotency import idempotent
from opply.limits import ID_PATTERN
from opply.permissions import caller
from opply.prepared import PreparedPages, PreparedRead
from opply.renderers import FastJSONRenderer
from opply.schema import (
    CART_CONFLICT,
    ETAG,
    IF_MATCH,
    IF_NONE_MATCH,
    NOT_MODIFIED,
    PRECONDITION_FAILED,
    SUBMIT_CONFLICT,
    TRANSITION_CONFLICT,
    error,
)
from opply.viewsets import ListFilteredViewSet
from orders import selectors, services
from orders.filters import OrderFilter
from orders.models import Order
from orders.serializers import (
    OrderDetailsSerializer,
    OrderSerializer,
    PlaceOrderSerializer,
    QuantitySerializer,
    order_rows_json,
)
from products.models import Product
from products.selectors import product_list_visible

ORDER_VERSION = selectors.ORDER_ROW.index("version")


def _history_rows(orders: QuerySet[Order]) -> QuerySet[Any]:
    """A list of orders read as values, without the instances' prefetched lines."""
    return orders.prefetch_related(None).values_list(*selectors.ORDER_ROW)


def _unfiltered_history(staff: bool) -> Callable[[int], QuerySet[Any]]:
    def build(user_id: int) -> QuerySet[Any]:
        user = get_user_model()(pk=user_id, is_staff=staff)
        visible = selectors.order_list_visible(user=user)
        return _history_rows(unfiltered(OrderFilter, visible, SimpleNamespace(user=user)))

    return build


# The caller's orders as the FilterSet narrows a list request without filter input, for
# staff or not: SQL built once per connection and page size, the caller and the OFFSET
# parameters.
_HISTORY = {
    staff: PreparedRead(f"history-{staff}", _unfiltered_history(staff), int)
    for staff in (False, True)
}


def _order_response(order: Order, status_code: int = status.HTTP_200_OK) -> Response:
    order = selectors.order_with_lines(order=order)
    return Response(
        OrderSerializer(order).data,
        status=status_code,
        headers={"ETag": version_etag(order.version)},
    )


def _details(request: Request) -> dict[str, Any]:
    payload = OrderDetailsSerializer(data=request.data)
    payload.is_valid(raise_exception=True)
    return dict(payload.validated_data)


_DETAILS = (
    "`po_number` (up to 35 letters, digits, spaces and `-_/.#`) and `note` (up to 1000 "
    "characters) can be set while the order is active and are frozen once it is submitted "
    "(409 `order_frozen`). A PO number is unique among the buyer's submitted and fulfilled "
    "orders: 409 `duplicate_po_number` at submission names the order that has it."
)
_ORDER_WRITE_ERRORS = {
    409: error("`order_frozen`: the order is no longer active."),
    412: PRECONDITION_FAILED,
}


@extend_schema_view(
    list=extend_schema(
        summary="List the caller's orders",
        description=(
            "Newest first. Filter by `status`; staff may add `all=true` for everyone's orders "
            "or `user=<id>` for one user's. Buyers always see only their own."
        ),
        parameters=[
            OpenApiParameter(
                "all", OpenApiTypes.BOOL, description="Staff: `true` lists every user's orders."
            ),
            OpenApiParameter(
                "user", OpenApiTypes.INT, description="Staff: list this user's orders (`buyer.id`)."
            ),
        ],
    ),
    retrieve=extend_schema(
        summary="Get one order (owner or staff)",
        description='Served with `ETag: "<version>"`.',
        parameters=[IF_NONE_MATCH, ETAG],
        responses={200: OrderSerializer, 304: NOT_MODIFIED},
    ),
)
class OrderViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    ListFilteredViewSet[Order],
):
    """The caller's orders. Another user's order is a 404 by construction."""

    serializer_class = OrderSerializer
    permission_classes = [IsAuthenticated]
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = OrderFilter
    lookup_value_regex = ID_PATTERN
    renderer_classes = [FastJSONRenderer, BrowsableAPIRenderer]

    def get_queryset(self) -> QuerySet[Order]:
        return selectors.order_list_visible(user=self.request.user)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # Rows read as values: a page of orders and their lines without model instances.
        # Without filter input, by the prepared statements of the same queryset.
        orders: Any
        if self.unfiltered_list():
            user = request.user
            orders = PreparedPages(_HISTORY[bool(getattr(user, "is_staff", False))], user.pk)
        else:
            orders = _history_rows(self.filter_queryset(self.get_queryset()))
        page = self.paginate_queryset(orders)
        return self.get_paginated_response(
            order_rows_json(selectors.order_rows_with_lines(list(page or ())))
        )

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        order = self.get_object()
        response = Response(OrderSerializer(order).data)
        return conditional(request, response, version_etag(order.version))

    @extend_schema(
        summary="Set the PO number or note of the caller's active order",
        description=_DETAILS,
        request=OrderDetailsSerializer,
        parameters=[IF_MATCH, ETAG],
        responses={200: OrderSerializer, **_ORDER_WRITE_ERRORS},
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        order = services.order_update(
            user=caller(request), order_id=int(pk), if_match=if_match(request), **_details(request)
        )
        return _order_response(order)

    @extend_schema(
        summary="Place an order in one request",
        description=(
            "Creates and submits an order from 1 to 500 lines atomically, with the same rules "
            "as submit. A product listed twice, or unknown, is a 400 naming it. The caller's "
            f"active cart is untouched. {_DETAILS}"
        ),
        request=PlaceOrderSerializer,
        parameters=[ETAG],
        responses={201: OrderSerializer, 409: SUBMIT_CONFLICT},
    )
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payload = PlaceOrderSerializer(data=request.data, context={"request": request})
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        order = services.order_place(
            user=caller(request),
            items=data["items"],
            po_number=data.get("po_number") or "",
            note=data.get("note") or "",
        )
        return _order_response(order, status.HTTP_201_CREATED)

    @extend_schema(
        methods=["GET"],
        summary="The caller's active order",
        description='Created if missing; a user never has two. Served with `ETag: "<version>"`.',
        filters=False,
        parameters=[IF_NONE_MATCH, ETAG],
        responses={200: OrderSerializer, 304: NOT_MODIFIED},
    )
    @extend_schema(
        methods=["PATCH"],
        summary="Set the PO number or note of the caller's active order",
        description=f"{_DETAILS} The active order is created if missing.",
        filters=False,
        request=OrderDetailsSerializer,
        parameters=[IF_MATCH, ETAG],
        responses={200: OrderSerializer, **_ORDER_WRITE_ERRORS},
    )
    @action(detail=False, methods=["get", "patch"])
    def current(self, request: Request) -> Response:
        user = caller(request)
        if request.method == "PATCH":
            order = services.order_update(
                user=user, order_id=None, if_match=if_match(request), **_details(request)
            )
            return _order_response(order)
        # Read as values, with SQL built once per connection; created by the service if
        # missing. Two queries either way: the order, then its lines.
        row = selectors.active_order_row(user_id=user.pk)
        if row is None:
            order = services.order_get_or_create_active(user=user)
            order.user = user
            response = Response(OrderSerializer(selectors.order_load_lines(order=order)).data)
            return conditional(request, response, version_etag(order.version))
        response = Response(order_rows_json([selectors.order_row_with_lines(row)])[0])
        return conditional(request, response, version_etag(row[ORDER_VERSION]))

    @extend_schema(
        summary="Submit the caller's active order",
        description=(
            "All or nothing: stock is taken for every line, unit prices and the total are "
            "frozen. Every line is checked against its product's quantity rules and stock as "
            "they stand now: the 409 lists every offending line and nothing changes. The "
            f"optional body sets the PO number and note. {_DETAILS}"
        ),
        request=OrderDetailsSerializer,
        parameters=[IF_MATCH, ETAG],
        responses={200: OrderSerializer, 409: SUBMIT_CONFLICT, 412: PRECONDITION_FAILED},
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def submit(self, request: Request, pk: str) -> Response:
        order = services.order_submit(
            user=caller(request), order_id=int(pk), if_match=if_match(request), **_details(request)
        )
        return _order_response(order)

    @extend_schema(
        summary="Cancel a submitted order (owner or staff)",
        description="Submitted to cancelled; its stock is restored and recorded in the ledger.",
        request=None,
        parameters=[ETAG],
        responses={200: OrderSerializer, 409: TRANSITION_CONFLICT},
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def cancel(self, request: Request, pk: str) -> Response:
        return _order_response(services.order_cancel(actor=caller(request), order_id=int(pk)))

    @extend_schema(
        summary="Fulfil a submitted order (staff)",
        request=None,
        parameters=[ETAG],
        responses={200: OrderSerializer, 409: TRANSITION_CONFLICT},
    )
    @action(detail=True, methods=["post"], permission_classes=[IsAdminUser])
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
        summary="Add a product to the caller's active order",
        description=(
            "Optional `quantity` (1..10000; by default the smallest valid step). The active "
            "order is created if missing. 409 `quantity_rule` if the line would break the "
            "product's quantity rules, `insufficient_stock` if it would exceed the stock. "
            "`If-Match` takes the active order's version."
        ),
        request=QuantitySerializer,
        parameters=[IF_MATCH, ETAG],
        responses={200: OrderSerializer, 409: CART_CONFLICT, 412: PRECONDITION_FAILED},
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def add_to_order(self, request: Request, pk: str) -> Response:
        quantity = self._quantity(request)
        order = services.order_add_item(
            user=caller(request),
            product_id=self.get_object().pk,
            quantity=quantity,
            if_match=if_match(request),
        )
        return _order_response(order)

    @extend_schema(
        summary="Remove a product from the caller's active order",
        description=(
            "Optional `quantity` (by default one increment, or the whole line when less than "
            "the minimum would remain); the line disappears at 0. 404 `not_in_order` when the "
            "product is not in the active order; 409 `quantity_rule` when what remains would "
            "break the product's quantity rules. `If-Match` takes the active order's version."
        ),
        request=QuantitySerializer,
        parameters=[IF_MATCH, ETAG],
        responses={
            200: OrderSerializer,
            404: error("`not_in_order` or no such product."),
            409: CART_CONFLICT,
            412: PRECONDITION_FAILED,
        },
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def remove_from_order(self, request: Request, pk: str) -> Response:
        # No visibility check: a product deactivated after it was added can still be removed.
        quantity = self._quantity(request)
        order = services.order_remove_item(
            user=caller(request), product_id=int(pk), quantity=quantity, if_match=if_match(request)
        )
        return _order_response(order)

    def _quantity(self, request: Request) -> int | None:
        payload = QuantitySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        quantity = payload.validated_data.get("quantity")
        return None if quantity is None else int(quantity)
