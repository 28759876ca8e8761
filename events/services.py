"""Every write of the events app: endpoints, fanning events out into deliveries, delivery
attempts and their retries, and the purges run by the worker."""

from __future__ import annotations

import base64
import logging
import random
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from events import sending
from events.models import Delivery, DeliveryAttempt, DispatchCursor, Event, WebhookEndpoint
from events.serializers import event_body
from opply.exceptions import DomainError, NotFound

logger = logging.getLogger("opply.webhooks")

DISPATCH_BATCH = 500


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def endpoint_create(**fields: Any) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(secret=new_secret(), **fields)


def endpoint_update(*, endpoint: WebhookEndpoint, **fields: Any) -> WebhookEndpoint:
    for name, value in fields.items():
        setattr(endpoint, name, value)
    endpoint.save()
    return endpoint


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret; attempts from now on are signed with it."""
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret", "updated_at"])
    return endpoint


class EventNotSubscribed(DomainError):
    code = "event_not_subscribed"
    detail = "This endpoint does not subscribe to the event's type."


def endpoint_redeliver(*, endpoint: WebhookEndpoint, event_id: int) -> Delivery:
    """Queue the event for the endpoint again (a new round of the retry schedule), keeping
    its webhook-id. A worker sends it within moments. NotFound if the event does not exist
    (or was purged); EventNotSubscribed for an event the endpoint was never owed (neither
    subscribed to its type nor delivered it before)."""
    event = Event.objects.filter(pk=event_id).first()
    if event is None:
        raise NotFound("No such event.")
    with transaction.atomic():
        owed = Delivery.objects.filter(event=event, endpoint=endpoint).exists()
        if not owed and not endpoint.wants(event.type):
            raise EventNotSubscribed(
                f"This endpoint does not subscribe to {event.type} events.",
                type=event.type,
                events=endpoint.events,
            )
        delivery, created = Delivery.objects.select_for_update().get_or_create(
            event=event, endpoint=endpoint
        )
        if not created:
            delivery.state = Delivery.State.PENDING
            delivery.round_start = delivery.attempts
            delivery.next_attempt_at = timezone.now()
            delivery.save(update_fields=["state", "round_start", "next_attempt_at", "updated_at"])
    return delivery


def events_dispatch() -> int:
    """Fan the events after the dispatch cursor out into deliveries, one per active endpoint
    that wants the type, in one transaction; they are due at once. Returns the number of
    events dispatched (at most DISPATCH_BATCH per call)."""
    DispatchCursor.objects.bulk_create([DispatchCursor(pk=1)], ignore_conflicts=True)
    with transaction.atomic():
        cursor = DispatchCursor.objects.select_for_update().get(pk=1)
        events = list(
            Event.objects.filter(pk__gt=cursor.last_event_id)
            .order_by("pk")
            .values_list("pk", "type")[:DISPATCH_BATCH]
        )
        if not events:
            return 0
        endpoints = list(WebhookEndpoint.objects.filter(is_active=True))
        event_ids = [pk for pk, _ in events]
        # Redelivered by hand before its turn came: already has its delivery.
        existing = set(
            Delivery.objects.filter(event_id__in=event_ids).values_list("event_id", "endpoint_id")
        )
        Delivery.objects.bulk_create(
            [
                Delivery(event_id=pk, endpoint=endpoint)
                for pk, event_type in events
                for endpoint in endpoints
                if endpoint.wants(event_type) and (pk, endpoint.pk) not in existing
            ]
        )
        cursor.last_event_id = event_ids[-1]
        cursor.save(update_fields=["last_event_id"])
    return len(events)


def events_pending_dispatch() -> bool:
    last = DispatchCursor.objects.filter(pk=1).values_list("last_event_id", flat=True).first()
    return Event.objects.filter(pk__gt=last or 0).exists()


def retry_delay(retry: int) -> float | None:
    """Seconds before retry number `retry` (1-based), with jitter; None when none is left."""
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    if retry > len(schedule):
        return None
    return float(schedule[retry - 1]) * random.uniform(1.0, 1.2)  # noqa: S311 - jitter


def _due(now: datetime) -> QuerySet[Delivery]:
    """Deliveries whose next attempt is due and that no live worker holds (never claimed,
    or claimed by a worker whose lease has passed: it died mid-delivery)."""
    return Delivery.objects.filter(state=Delivery.State.PENDING, next_attempt_at__lte=now).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    )


def deliveries_due_exist() -> bool:
    return _due(timezone.now()).exists()


def deliveries_claim(*, limit: int) -> tuple[datetime, list[Delivery]]:
    """Claim up to `limit` due deliveries for this worker: their lease is set in the same
    transaction that picks them (rows other workers are claiming are skipped on PostgreSQL;
    SQLite runs one writer at a time), so two workers never send the same attempt."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
    with transaction.atomic():
        ids = list(
            _due(now)
            .select_for_update(skip_locked=True)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        Delivery.objects.filter(pk__in=ids).update(lease_until=lease)
    claimed = Delivery.objects.filter(pk__in=ids).select_related("event", "endpoint")
    return lease, list(claimed.order_by("pk"))


def deliver_due(*, limit: int | None = None) -> int:
    """Claim a batch of due deliveries, POST them concurrently (WEBHOOK_CONCURRENCY at a
    time, outside any transaction), and record every attempt: `succeeded`, a retry at the
    next step of the schedule, or `failed` once the schedule is spent. A worker that dies
    mid-batch leaves its leases to expire, and the deliveries fall due again for another
    worker. Returns the number of attempts made."""
    lease, deliveries = deliveries_claim(limit=limit or settings.WEBHOOK_CONCURRENCY)
    if not deliveries:
        return 0
    with ThreadPoolExecutor(max_workers=len(deliveries)) as pool:
        results = list(pool.map(_attempt, deliveries))
    _record(deliveries, results, lease)
    return len(deliveries)


def _attempt(delivery: Delivery) -> sending.AttemptResult:
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        return sending.AttemptResult(False, None, "The endpoint is not active.", 0)
    return sending.post(
        url=endpoint.url,
        secret=endpoint.secret,
        webhook_id=delivery.webhook_id,
        body=event_body(delivery.event),
    )


def _record(
    deliveries: list[Delivery], results: list[sending.AttemptResult], lease: datetime
) -> None:
    now = timezone.now()
    with transaction.atomic():
        # Only the deliveries this worker still holds: past its lease another may own them.
        held = {
            d.pk: d
            for d in Delivery.objects.select_for_update().filter(
                pk__in=[d.pk for d in deliveries], lease_until=lease
            )
        }
        attempts = []
        for delivery, result in zip(deliveries, results, strict=True):
            current = held.get(delivery.pk, delivery)
            number = current.attempts + 1
            attempts.append(
                DeliveryAttempt(
                    delivery_id=delivery.pk,
                    number=number,
                    succeeded=result.succeeded,
                    status_code=result.status_code,
                    error=result.error,
                    duration_ms=result.duration_ms,
                )
            )
            logger.info(
                "webhook %s attempt %s to endpoint %s: %s",
                delivery.webhook_id,
                number,
                delivery.endpoint_id,
                "succeeded" if result.succeeded else result.error or result.status_code,
            )
            if current.pk not in held:
                continue
            current.attempts = number
            current.lease_until = None
            current.updated_at = now
            if result.succeeded:
                current.state = Delivery.State.SUCCEEDED
            else:
                active = delivery.endpoint.is_active
                delay = retry_delay(number - current.round_start) if active else None
                if delay is None:
                    current.state = Delivery.State.FAILED
                else:
                    current.next_attempt_at = now + timedelta(seconds=delay)
        DeliveryAttempt.objects.bulk_create(attempts)
        Delivery.objects.bulk_update(
            list(held.values()),
            ["attempts", "lease_until", "updated_at", "state", "next_attempt_at"],
        )


def events_purge() -> int:
    """Delete events older than EVENT_RETENTION_DAYS (and their deliveries)."""
    cutoff = timezone.now() - timedelta(days=settings.EVENT_RETENTION_DAYS)
    deleted, _ = Event.objects.filter(created_at__lt=cutoff).delete()
    return deleted
