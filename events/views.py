"""The event feed (/events/) and webhook endpoints (/webhooks/, staff)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response

from events import selectors, services
from events.models import EventType, WebhookEndpoint
from events.serializers import (
    DeliverySerializer,
    EventPageSerializer,
    EventSerializer,
    FeedQuerySerializer,
    RedeliverSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointWithSecretSerializer,
)
from opply.limits import ID_PATTERN
from opply.schema import AutoSchema, error


class FeedSchema(AutoSchema):
    """The feed answers one page object (`results`, `has_more`, `next`), not a bare list."""

    def _is_list_view(self, serializer: Any = None) -> bool:
        return False

    def get_operation_id(self) -> str:
        return (
            "events_list"
            if getattr(self.view, "action", "") == "list"
            else super().get_operation_id()
        )


TYPES = ", ".join(f"`{value}`" for value in EventType.values)


@extend_schema_view(
    retrieve=extend_schema(summary="One event", responses={200: EventSerializer}),
)
class EventViewSet(viewsets.GenericViewSet[Any]):
    """Every business change, oldest first. Staff see all; a buyer sees the events about
    their own orders."""

    serializer_class = EventSerializer
    lookup_value_regex = ID_PATTERN
    pagination_class = None
    filter_backends: list[Any] = []
    schema = FeedSchema()

    def get_queryset(self) -> QuerySet[Any]:
        return selectors.event_scope(user=self.request.user)

    @extend_schema(
        summary="The event feed",
        description=(
            "Events after `after`, oldest first. Follow the feed by passing the last id "
            "you saw as `after` (or following `next`): every event is seen exactly once, in "
            "id order; an event never appears behind a cursor already served. "
            f"Types: {TYPES}."
        ),
        parameters=[
            OpenApiParameter("after", OpenApiTypes.INT, description="Exclusive cursor (id)."),
            OpenApiParameter("type", OpenApiTypes.STR, description="Comma-separated types."),
            OpenApiParameter("limit", OpenApiTypes.INT, description="1..100, default 50."),
        ],
        responses={200: EventPageSerializer, 400: error("A parameter is out of range.")},
    )
    def list(self, request: Request) -> Response:
        query = FeedQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        events, has_more = selectors.event_page(
            user=request.user,
            after=params["after"],
            types=params.get("type"),
            limit=params["limit"],
        )
        cursor = events[-1].pk if events else params["after"]
        next_query = {**request.query_params.dict(), "after": str(cursor)}
        return Response(
            {
                "results": [EventSerializer(event).data for event in events],
                "has_more": has_more,
                "next": request.build_absolute_uri(f"{request.path}?{urlencode(next_query)}"),
            }
        )

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(EventSerializer(self.get_object()).data)


@extend_schema_view(
    list=extend_schema(summary="Webhook endpoints (staff)"),
    retrieve=extend_schema(summary="One webhook endpoint (staff)"),
    partial_update=extend_schema(summary="Change a webhook endpoint (staff)"),
    destroy=extend_schema(summary="Delete a webhook endpoint and its deliveries (staff)"),
)
class WebhookEndpointViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[WebhookEndpoint],
):
    """Where events are sent. `events` empty means every type."""

    serializer_class = WebhookEndpointSerializer
    permission_classes = [IsAdminUser]
    lookup_value_regex = ID_PATTERN
    queryset = WebhookEndpoint.objects.order_by("id")
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    @extend_schema(
        summary="Add a webhook endpoint (staff)",
        description=(
            "The answer carries the signing secret (`whsec_...`): the only time it is shown."
        ),
        responses={201: WebhookEndpointWithSecretSerializer, 400: error("Invalid or unsafe URL.")},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = WebhookEndpointSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = services.endpoint_create(**serializer.validated_data)
        return Response(
            WebhookEndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED
        )

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        endpoint = self.get_object()
        serializer = WebhookEndpointSerializer(endpoint, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        endpoint = services.endpoint_update(endpoint=endpoint, **serializer.validated_data)
        return Response(WebhookEndpointSerializer(endpoint).data)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    @extend_schema(
        summary="A new signing secret (staff)",
        description="The old secret stops signing at once; the new one is shown only here.",
        request=None,
        responses={200: WebhookEndpointWithSecretSerializer},
    )
    @action(detail=True, methods=["post"])
    def rotate_secret(self, request: Request, pk: str) -> Response:
        endpoint = services.endpoint_rotate_secret(endpoint=self.get_object())
        return Response(WebhookEndpointWithSecretSerializer(endpoint).data)

    @extend_schema(
        summary="Deliveries to this endpoint, newest first (staff)",
        responses={200: DeliverySerializer(many=True)},
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, pk: str) -> Response:
        deliveries = selectors.delivery_list(endpoint=self.get_object())
        page = self.paginate_queryset(deliveries)  # type: ignore[arg-type]
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)

    @extend_schema(
        summary="Send an event to this endpoint again (staff)",
        request=RedeliverSerializer,
        responses={
            202: DeliverySerializer,
            404: error("No such event."),
            409: error("`event_not_subscribed`: the endpoint never subscribed to its type."),
        },
    )
    @action(detail=True, methods=["post"])
    def redeliver(self, request: Request, pk: str) -> Response:
        payload = RedeliverSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        delivery = services.endpoint_redeliver(
            endpoint=self.get_object(), event_id=payload.validated_data["event"]
        )
        delivery = selectors.delivery_list(endpoint=delivery.endpoint).get(pk=delivery.pk)
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
