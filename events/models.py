"""The outbox (events), webhook endpoints, and the deliveries of events to endpoints."""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class EventType(models.TextChoices):
    ORDER_SUBMITTED = "order.submitted"
    ORDER_CANCELLED = "order.cancelled"
    ORDER_FULFILLED = "order.fulfilled"
    PRODUCT_CREATED = "product.created"
    PRODUCT_UPDATED = "product.updated"
    PRODUCT_DELETED = "product.deleted"
    PRODUCT_STOCK_CHANGED = "product.stock_changed"
    PRODUCT_OUT_OF_STOCK = "product.out_of_stock"
    PRODUCT_BACK_IN_STOCK = "product.back_in_stock"


class Event(models.Model):
    """One business change, written in the transaction of the change itself (the outbox).

    Ids are assigned in commit order (see `events.outbox.flush`), so a reader that has seen
    id N will never later find a committed event below N.
    """

    type = models.CharField(max_length=40, choices=EventType.choices)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    data = models.JSONField(encoder=DjangoJSONEncoder)
    # The buyer whose order this event is about (order events only): who may read it
    # besides staff. A plain id, not a foreign key: the outbox insert checks nothing else.
    buyer_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["buyer_id", "id"], name="event_buyer_feed"),
            models.Index(fields=["type", "id"], name="event_type_feed"),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"


class WebhookEndpoint(models.Model):
    url = models.URLField(max_length=2000)
    # Event types sent to this endpoint; empty means every type.
    events = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    description = models.CharField(max_length=500, blank=True, default="")
    secret = models.CharField(max_length=100, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


class Delivery(models.Model):
    """One event owed to one endpoint. `webhook_id` is the same on every attempt.

    A worker claims a due delivery by setting `lease_until` in one conditional UPDATE: two
    workers never send the same attempt, and a delivery whose worker died is claimable again
    once its lease has passed.
    """

    class State(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # `attempts` when this round of the retry schedule began (0, or when redelivered).
    round_start = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="one_delivery_per_endpoint")
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["endpoint", "-id"], name="delivery_endpoint_newest"),
        ]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.webhook_id} -> {self.endpoint_id}"

    @property
    def webhook_id(self) -> str:
        return f"msg_{self.event_id}_{self.endpoint_id}"


class DeliveryAttempt(models.Model):
    """One POST of a delivery, whatever its outcome."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    succeeded = models.BooleanField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")
    duration_ms = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"


class DispatchCursor(models.Model):
    """The last event id fanned out into deliveries (one row, id 1)."""

    last_event_id = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"dispatched up to event {self.last_event_id}"


class PeriodicJob(models.Model):
    """When each periodic job is next due. Workers claim a due job with one conditional
    UPDATE, so however many workers run, each occurrence is enqueued once."""

    name = models.CharField(max_length=50, primary_key=True)
    next_run_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name} next at {self.next_run_at}"
