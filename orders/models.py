"""Carts and orders."""

from django.conf import settings
from django.db import models

from products.models import Product


class Order(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUBMITTED = "submitted", "Submitted"
        FULFILLED = "fulfilled", "Fulfilled"
        CANCELLED = "cancelled", "Cancelled"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    total_amount = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    # The buyer's purchase-order number and note; frozen from submission on. Defaults in the
    # database too: rows written by COPY or raw SQL (benchmark data) get them.
    po_number = models.CharField(max_length=35, blank=True, default="", db_default="")
    note = models.TextField(max_length=1000, blank=True, default="", db_default="")
    # +1 on every change of the order or its lines (ETag / If-Match).
    version = models.PositiveIntegerField(default=1, db_default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="order_user_newest"),
            models.Index(fields=["status", "-created_at"], name="order_status_newest"),
            models.Index(
                fields=["po_number"], condition=~models.Q(po_number=""), name="order_po_number"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(status="active"),
                name="one_active_order_per_user",
            ),
            models.CheckConstraint(
                condition=models.Q(total_amount__gte=0), name="order_total_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(status="active") | models.Q(submitted_at__isnull=False),
                name="order_submitted_has_timestamp",
            ),
            # A buyer's PO number names one order they placed; a cancelled one frees it.
            models.UniqueConstraint(
                fields=["user", "po_number"],
                condition=models.Q(status__in=["submitted", "fulfilled"]) & ~models.Q(po_number=""),
                name="one_po_number_per_buyer",
            ),
        ]

    def __str__(self) -> str:
        return f"Order #{self.pk} ({self.status})"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    # Frozen at submit; empty while the order is an active cart (the current price applies).
    unit_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "product"], name="one_line_per_product"),
            models.CheckConstraint(
                condition=models.Q(quantity__gte=1), name="line_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of {self.product} (order #{self.order_id})"
