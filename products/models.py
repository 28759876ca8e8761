"""Catalogue and stock: products and the stock ledger."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Mod
from django.db.models.lookups import Exact

from opply.limits import MAX_INT
from products.rules import rule_problems

# The fields staff write (API, admin, import), in the order the API shows them.
WRITABLE_FIELDS = (
    "name",
    "sku",
    "price",
    "quantity_in_stock",
    "is_active",
    "min_order_quantity",
    "order_increment",
    "max_order_quantity",
)

# The largest stock a product can hold (its column is a 32-bit integer).
MAX_STOCK = MAX_INT


class Product(models.Model):
    name = models.CharField(max_length=200)
    sku = models.CharField(max_length=64, unique=True, null=True, blank=True)
    price = models.DecimalField(
        max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    quantity_in_stock = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True, db_index=True)
    # Quantity rules (products.rules): a line is a multiple of the increment from min to max.
    # Defaults in the database too: rows written by COPY or raw SQL (benchmark data) get them.
    min_order_quantity = models.PositiveIntegerField(
        default=1, db_default=1, validators=[MinValueValidator(1)]
    )
    order_increment = models.PositiveIntegerField(
        default=1, db_default=1, validators=[MinValueValidator(1)]
    )
    max_order_quantity = models.PositiveIntegerField(null=True, blank=True)
    # +1 in the same statement as every change (ETag / If-Match).
    version = models.PositiveIntegerField(default=1, db_default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity_in_stock__gte=0), name="product_stock_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(price__gte=0), name="product_price_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(min_order_quantity__gte=1, order_increment__gte=1)
                & models.Q(Exact(Mod("min_order_quantity", "order_increment"), 0)),
                name="product_min_is_a_multiple_of_increment",
            ),
            models.CheckConstraint(
                condition=models.Q(max_order_quantity__isnull=True)
                | (
                    models.Q(max_order_quantity__gte=models.F("min_order_quantity"))
                    & models.Q(Exact(Mod("max_order_quantity", "order_increment"), 0))
                ),
                name="product_max_is_a_multiple_above_min",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if None in (self.min_order_quantity, self.order_increment):
            return  # the field itself reports it
        if problems := rule_problems(
            min_order_quantity=self.min_order_quantity,
            order_increment=self.order_increment,
            max_order_quantity=self.max_order_quantity,
        ):
            raise ValidationError(problems)


class StockMovement(models.Model):
    """One signed change of a product's stock. The sum of a product's deltas is its stock."""

    class Reason(models.TextChoices):
        INITIAL = "initial", "Initial stock"
        SUBMIT = "submit", "Order submitted"
        CANCEL = "cancel", "Order cancelled"
        ADJUSTMENT = "adjustment", "Staff adjustment"
        IMPORT = "import", "Import"
        # Written by `check_stock --repair`: a difference between the stock and the ledger.
        RECONCILE = "reconcile", "Reconciliation"

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="movements")
    delta = models.IntegerField()
    reason = models.CharField(max_length=20, choices=Reason.choices)
    # The order behind a submit or cancel. A plain id, so that products never depends on orders.
    order_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.CharField(max_length=255, blank=True, default="")
    quantity_after = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["product", "-id"], name="movement_product_newest")]
        constraints = [
            models.CheckConstraint(condition=~models.Q(delta=0), name="movement_delta_not_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.delta:+d} {self.product}: {self.get_reason_display()}"
