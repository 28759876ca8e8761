"""Shapes of events, webhook endpoints and deliveries."""

from __future__ import annotations

import json
from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from events import ssrf
from events.models import Delivery, DeliveryAttempt, Event, EventType, WebhookEndpoint
from opply.limits import MAX_ID
from orders.serializers import OrderSerializer
from products.serializers import ProductSerializer

_DATETIME = serializers.DateTimeField()


def event_json(event: Event) -> dict[str, Any]:
    return {
        "id": event.pk,
        "type": event.type,
        "created_at": _DATETIME.to_representation(event.created_at),
        "data": event.data,
    }


def event_body(event: Event) -> str:
    """The body of a webhook delivery: the event JSON, compact."""
    return json.dumps(event_json(event), separators=(",", ":"))


class StockChangeSerializer(serializers.Serializer):
    """The data of product.stock_changed: the transaction's net change of one product."""

    product = serializers.IntegerField()
    delta = serializers.IntegerField()
    reason = serializers.CharField()
    order = serializers.IntegerField(allow_null=True)
    quantity_after = serializers.IntegerField()


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="EventData",
        serializers=[OrderSerializer, ProductSerializer, StockChangeSerializer],
        resource_type_field_name=None,
    )
)
class EventDataField(serializers.JSONField):
    """order.*: the order as GET /orders/{id}/ shows it; product.created, updated, deleted,
    out_of_stock, back_in_stock: the product as GET /products/{id}/ shows it;
    product.stock_changed: a stock change."""


class EventSerializer(serializers.ModelSerializer[Event]):
    """`data` is the resource as the API renders it at that moment (see EventDataField)."""

    data = EventDataField(help_text=EventDataField.__doc__)  # type: ignore[assignment]

    class Meta:
        model = Event
        fields = ["id", "type", "created_at", "data"]
        read_only_fields = fields

    def to_representation(self, instance: Event) -> dict[str, Any]:
        return event_json(instance)


class EventPageSerializer(serializers.Serializer):
    """The feed's page (for the schema)."""

    results = EventSerializer(many=True)
    has_more = serializers.BooleanField()
    next = serializers.CharField()


class FeedQuerySerializer(serializers.Serializer):
    after = serializers.IntegerField(min_value=0, max_value=MAX_ID, default=0)
    type = serializers.CharField(required=False, allow_blank=False, max_length=1000)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=50)

    def validate_type(self, value: str) -> list[str]:
        types = [part.strip() for part in value.split(",") if part.strip()]
        unknown = sorted(set(types) - set(EventType.values))
        if unknown or not types:
            raise serializers.ValidationError(
                f"Unknown event type: {', '.join(unknown) or value!r}. "
                f"Known: {', '.join(EventType.values)}."
            )
        return types


class WebhookEndpointSerializer(serializers.ModelSerializer[WebhookEndpoint]):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.choices),
        required=False,
        allow_empty=True,
        max_length=len(EventType.values),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "is_active", "description", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate_url(self, value: str) -> str:
        try:
            ssrf.resolve(value)
        except ssrf.UnsafeURL as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return value

    def validate_events(self, value: list[str]) -> list[str]:
        return sorted(set(value))


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    """The endpoint with its secret: the answer to creating it or rotating the secret only."""

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = [*WebhookEndpointSerializer.Meta.read_only_fields, "secret"]


class RedeliverSerializer(serializers.Serializer):
    event = serializers.IntegerField(min_value=1, max_value=MAX_ID)


class DeliveryAttemptSerializer(serializers.ModelSerializer[DeliveryAttempt]):
    attempt = serializers.IntegerField(source="number")
    time = serializers.DateTimeField(source="created_at")

    class Meta:
        model = DeliveryAttempt
        fields = ["attempt", "succeeded", "status_code", "error", "duration_ms", "time"]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer[Delivery]):
    event_type = serializers.CharField(source="event.type")
    webhook_id = serializers.CharField()
    attempt = serializers.IntegerField(source="attempts")
    status_code = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    duration_ms = serializers.SerializerMethodField()
    time = serializers.DateTimeField(source="updated_at")
    attempt_log = DeliveryAttemptSerializer(many=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "event",
            "event_type",
            "webhook_id",
            "attempt",
            "state",
            "status_code",
            "error",
            "duration_ms",
            "time",
            "next_attempt_at",
            "attempt_log",
        ]
        read_only_fields = fields

    def _last(self, delivery: Delivery) -> DeliveryAttempt | None:
        log = list(delivery.attempt_log.all())
        return log[0] if log else None

    def get_status_code(self, delivery: Delivery) -> int | None:
        last = self._last(delivery)
        return last.status_code if last else None

    def get_error(self, delivery: Delivery) -> str:
        last = self._last(delivery)
        return last.error if last else ""

    def get_duration_ms(self, delivery: Delivery) -> int | None:
        last = self._last(delivery)
        return last.duration_ms if last else None
