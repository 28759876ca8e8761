"""Shapes of catalogue requests and responses."""

from typing import Any

from rest_framework import serializers

from products.models import MAX_STOCK, WRITABLE_FIELDS, Product, StockMovement
from products.rules import rule_problems

_PRICE = serializers.DecimalField(max_digits=12, decimal_places=2)

# A product's JSON fields, in order, as read from the database (values, not instances).
PRODUCT_ROW = ("id", *WRITABLE_FIELDS, "version")


def product_row_json(row: tuple[Any, ...]) -> dict[str, Any]:
    """A product's JSON from its PRODUCT_ROW values: the one definition of its shape."""
    return {
        "id": row[0],
        "name": row[1],
        "sku": row[2],
        "price": _PRICE.to_representation(row[3]),
        "quantity_in_stock": row[4],
        "is_active": row[5],
        "min_order_quantity": row[6],
        "order_increment": row[7],
        "max_order_quantity": row[8],
        "version": row[9],
    }


class ProductSerializer(serializers.ModelSerializer[Product]):
    price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    quantity_in_stock = serializers.IntegerField(min_value=0, max_value=MAX_STOCK)
    sku = serializers.CharField(
        max_length=64, required=False, allow_null=True, allow_blank=True, default=None
    )
    min_order_quantity = serializers.IntegerField(
        min_value=1, max_value=MAX_STOCK, required=False, help_text="Smallest line quantity."
    )
    order_increment = serializers.IntegerField(
        min_value=1,
        max_value=MAX_STOCK,
        required=False,
        help_text="Case pack: a line quantity is a multiple of this.",
    )
    max_order_quantity = serializers.IntegerField(
        min_value=1,
        max_value=MAX_STOCK,
        required=False,
        allow_null=True,
        help_text="Largest line quantity; null for no limit.",
    )
    version = serializers.IntegerField(
        read_only=True, help_text="+1 on every change; the product's ETag."
    )

    class Meta:
        model = Product
        fields = list(PRODUCT_ROW)
        read_only_fields = ["id", "version"]

    def to_representation(self, instance: Product) -> dict[str, Any]:
        # The catalogue's hot path: the JSON the declared fields give, without DRF's generic
        # per-field walk (measured in docs/benchmarks.md).
        if not isinstance(instance, Product):
            return dict(super().to_representation(instance))
        return product_row_json(tuple(getattr(instance, name) for name in PRODUCT_ROW))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The rules as they will stand: the request's values over the product's current ones.
        def merged(name: str, default: Any) -> Any:
            return attrs.get(name, getattr(self.instance, name, default))

        if problems := rule_problems(
            min_order_quantity=merged("min_order_quantity", 1),
            order_increment=merged("order_increment", 1),
            max_order_quantity=merged("max_order_quantity", None),
        ):
            raise serializers.ValidationError({name: [msg] for name, msg in problems.items()})
        return attrs

    def validate_sku(self, value: str | None) -> str | None:
        value = (value or "").strip() or None
        if value is not None:
            clash = Product.objects.filter(sku=value)
            if self.instance is not None:
                clash = clash.exclude(pk=self.instance.pk)
            if clash.exists():
                raise serializers.ValidationError("A product with this sku already exists.")
        return value


class StockMovementSerializer(serializers.ModelSerializer[StockMovement]):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = StockMovement
        fields = [
            "id",
            "product",
            "delta",
            "reason",
            "order_id",
            "actor",
            "note",
            "quantity_after",
            "created_at",
        ]
        read_only_fields = fields

    def get_actor(self, movement: StockMovement) -> str | None:
        return movement.actor.get_username() if movement.actor else None
