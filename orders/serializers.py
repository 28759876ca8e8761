"""Shapes of order requests and responses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from opply.limits import MAX_ID
from orders import pricing
from orders.models import Order, OrderLine
from products.selectors import product_list_visible

MAX_QUANTITY = 10_000
MAX_ITEMS = 500
PO_NUMBER_PATTERN = r"^[A-Za-z0-9 \-_/.#]*$"
# Timestamps in the project's time zone (settings.TIME_ZONE), as DRF writes them when no
# other zone is active (none ever is here): the zone told once, not looked up in the active
# zone's thread-local for each of a page's timestamps.
_DATETIME = serializers.DateTimeField(default_timezone=timezone.get_default_timezone())


def _timestamp(value: datetime | None) -> str | None:
    return None if value is None else _DATETIME.to_representation(value)


def line_json(product_id: int, name: str, quantity: int, unit: Decimal) -> dict[str, Any]:
    """A line's JSON: the one definition of its shape (instances and values alike)."""
    return {
        "product": product_id,
        "name": name,
        "quantity": quantity,
        "unit_price": pricing.money(unit),
        "line_total": pricing.money(pricing.line_total(unit, quantity)),
    }


def order_json(row: tuple[Any, ...], lines: list[tuple[int, str, int, Decimal]]) -> dict[str, Any]:
    """An order's JSON from its ORDER_ROW values (orders.selectors) and its lines as
    (product, name, quantity, unit price): the one definition of its shape."""
    (pk, status, total, created, submitted, cancelled, fulfilled,
     user_id, username, po_number, note, version) = row  # fmt: skip
    total = pricing.order_total_of(
        status=status, frozen=total, lines=((unit, quantity) for _, _, quantity, unit in lines)
    )
    return {
        "id": pk,
        "status": str(status),
        "buyer": {"id": user_id, "username": username},
        "po_number": po_number,
        "note": note,
        "version": version,
        "items": [line_json(*line) for line in lines],
        "total_amount": pricing.money(total),
        "created_at": _timestamp(created),
        "submitted_at": _timestamp(submitted),
        "cancelled_at": _timestamp(cancelled),
        "fulfilled_at": _timestamp(fulfilled),
    }


def order_rows_json(orders: list[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]) -> list[Any]:
    """Orders read as values (orders.selectors.order_rows_with_lines) as JSON."""
    return [
        order_json(
            row,
            [
                (product, name, quantity, pricing.unit_price(frozen=unit, current=price))
                for _, product, name, quantity, unit, price in lines
            ],
        )
        for row, lines in orders
    ]


class OrderItemSerializer(serializers.Serializer):
    product = serializers.IntegerField(source="product_id")
    name = serializers.CharField(source="product.name")
    quantity = serializers.IntegerField()
    unit_price = serializers.SerializerMethodField()
    line_total = serializers.SerializerMethodField()

    def get_unit_price(self, line: OrderLine) -> str:
        return pricing.money(pricing.line_unit_price(line))

    def get_line_total(self, line: OrderLine) -> str:
        return pricing.money(pricing.line_total(pricing.line_unit_price(line), line.quantity))

    def to_representation(self, instance: OrderLine) -> dict[str, Any]:
        # Order lists serialize hundreds of lines: the JSON of the fields above, built
        # directly rather than by DRF's generic per-field walk (see docs/benchmarks.md).
        return line_json(
            instance.product_id,
            instance.product.name,
            instance.quantity,
            pricing.line_unit_price(instance),
        )


class BuyerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class OrderSerializer(serializers.ModelSerializer[Order]):
    buyer = BuyerSerializer(source="user", read_only=True, help_text="Who placed the order.")
    items = OrderItemSerializer(source="lines", many=True, read_only=True)
    total_amount = serializers.SerializerMethodField()
    version = serializers.IntegerField(
        read_only=True, help_text="+1 on every change; the order's ETag."
    )

    class Meta:
        model = Order
        fields = [
            "id",
            "status",
            "buyer",
            "po_number",
            "note",
            "version",
            "items",
            "total_amount",
            "created_at",
            "submitted_at",
            "cancelled_at",
            "fulfilled_at",
        ]
        read_only_fields = fields

    def get_total_amount(self, order: Order) -> str:
        return pricing.money(pricing.order_total(order, order.lines.all()))

    def to_representation(self, instance: Order) -> dict[str, Any]:
        # The JSON of the fields above, built directly (see OrderItemSerializer).
        return order_json(
            (
                instance.pk,
                instance.status,
                instance.total_amount,
                instance.created_at,
                instance.submitted_at,
                instance.cancelled_at,
                instance.fulfilled_at,
                instance.user_id,
                instance.user.get_username(),
                instance.po_number,
                instance.note,
                instance.version,
            ),
            [
                (line.product_id, line.product.name, line.quantity, pricing.line_unit_price(line))
                for line in instance.lines.all()
            ],
        )


class QuantitySerializer(serializers.Serializer):
    quantity = serializers.IntegerField(
        min_value=1,
        max_value=MAX_QUANTITY,
        required=False,
        help_text=(
            "Without it: add the smallest valid step (the minimum for a new line, the "
            "increment for an existing one); remove one increment, or the whole line when "
            "less than the minimum would remain."
        ),
    )


class OrderDetailsSerializer(serializers.Serializer):
    """The buyer's references on an order: settable while it is active, frozen after."""

    po_number = serializers.RegexField(
        PO_NUMBER_PATTERN,
        max_length=35,
        required=False,
        allow_blank=True,
        allow_null=True,
        trim_whitespace=True,
        help_text="Purchase-order number: letters, digits, space and `-_/.#`; empty for none.",
        error_messages={"invalid": "Use only letters, digits, spaces and - _ / . #"},
    )
    note = serializers.CharField(
        max_length=1000, required=False, allow_blank=True, allow_null=True, trim_whitespace=True
    )

    def validate_po_number(self, value: str | None) -> str:
        return value or ""

    def validate_note(self, value: str | None) -> str:
        return value or ""


class ItemSerializer(serializers.Serializer):
    product = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)


class PlaceOrderSerializer(OrderDetailsSerializer):
    items = ItemSerializer(many=True, allow_empty=False, max_length=MAX_ITEMS)  # type: ignore[call-arg]

    def to_internal_value(self, data: Any) -> Any:
        # Checked first, so a wrong number of lines is `{"items": [message]}` like any other
        # field error (the list serializer's own check nests it under non_field_errors).
        items = data.get("items") if isinstance(data, Mapping) else None
        if isinstance(items, list) and not 1 <= len(items) <= MAX_ITEMS:
            raise serializers.ValidationError(
                {"items": [f"Give between 1 and {MAX_ITEMS} lines; got {len(items)}."]}
            )
        return super().to_internal_value(data)

    def validate_items(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        seen: set[int] = set()
        repeated = []
        for item in items:
            if item["product"] in seen:
                repeated.append(item["product"])
            seen.add(item["product"])
        if repeated:
            raise serializers.ValidationError(
                f"Each product may appear once; repeated: {_ids(repeated)}."
            )
        visible = product_list_visible(user=self.context["request"].user)
        found = set(visible.filter(pk__in=seen).values_list("pk", flat=True))
        if unknown := seen - found:
            raise serializers.ValidationError(f"No such product: {_ids(unknown)}.")
        return items


def _ids(ids: Iterable[int]) -> str:
    return ", ".join(str(pk) for pk in sorted(set(ids)))
