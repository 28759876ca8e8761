"""Every write of the events app: endpoints, fanning events out into deliveries, delivery
attempts and their retries, and the purges run by the worker."""

from __future__ import annotations

import base64
import logging
import random
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from events import sending
from events.models import Delivery, DeliveryAttempt, DispatchCursor, Event, WebhookEndpoint
from events.serializers import event_body
from opply.exceptions import NotFound

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


def endpoint_redeliver(*, endpoint: WebhookEndpoint, event_id: int) -> Delivery:
    """Queue the event for the endpoint again (a new round of the retry schedule), keeping
    its webhook-id. NotFound if the event does not exist (or was purged)."""
    from events.tasks import deliver

    event = Event.objects.filter(pk=event_id).first()
    if event is None:
        raise NotFound("No such event.")
    with transaction.atomic():
        delivery, created = Delivery.objects.select_for_update().get_or_create(
            event=event, endpoint=endpoint
        )
        if not created:
            delivery.state = Delivery.State.PENDING
            delivery.round_start = delivery.attempts
            delivery.next_attempt_at = timezone.now()
            delivery.save(update_fields=["state", "round_start", "next_attempt_at", "updated_at"])
        deliver.enqueue(delivery.pk)
    return delivery


def events_dispatch() -> int:
    """Fan the events after the dispatch cursor out into deliveries, one per active endpoint
    that wants the type, and queue their first attempt, in one transaction. Returns the
    number of events dispatched (at most DISPATCH_BATCH per call)."""
    from events.tasks import deliver

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
        deliveries = Delivery.objects.bulk_create(
            [
                Delivery(event_id=pk, endpoint=endpoint)
                for pk, event_type in events
                for endpoint in endpoints
                if endpoint.wants(event_type) and (pk, endpoint.pk) not in existing
            ]
        )
        for delivery in deliveries:
            deliver.enqueue(delivery.pk)
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


def delivery_attempt(*, delivery_id: int) -> str:
    """Make the next attempt of a delivery if it is due and no other worker holds it.

    Claims the delivery with one conditional UPDATE (a lease of WEBHOOK_LEASE_SECONDS), posts
    outside any transaction, then records the attempt and either closes the delivery
    (`succeeded`, or `failed` once the schedule is spent) or queues the retry, in one
    transaction. A worker that dies mid-attempt leaves the lease to expire; the sweep then
    queues the delivery again. Returns what happened, for the task's result.
    """
    from events.tasks import deliver

    now = timezone.now()
    lease = now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
    claimed = (
        Delivery.objects.filter(
            pk=delivery_id, state=Delivery.State.PENDING, next_attempt_at__lte=now
        )
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=lease)
    )
    if not claimed:
        return "not due"
    delivery = Delivery.objects.select_related("event", "endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if endpoint.is_active:
        result = sending.post(
            url=endpoint.url,
            secret=endpoint.secret,
            webhook_id=delivery.webhook_id,
            body=event_body(delivery.event),
        )
    else:
        result = sending.AttemptResult(False, None, "The endpoint is not active.", 0)
    with transaction.atomic():
        current = Delivery.objects.select_for_update().get(pk=delivery_id)
        number = current.attempts + 1
        DeliveryAttempt.objects.create(
            delivery=current,
            number=number,
            succeeded=result.succeeded,
            status_code=result.status_code,
            error=result.error,
            duration_ms=result.duration_ms,
        )
        current.attempts = number
        if current.lease_until == lease:
            current.lease_until = None
        if result.succeeded:
            current.state = Delivery.State.SUCCEEDED
        else:
            delay = retry_delay(number - current.round_start) if endpoint.is_active else None
            if delay is None:
                current.state = Delivery.State.FAILED
            else:
                current.next_attempt_at = timezone.now() + timedelta(seconds=delay)
                deliver.using(run_after=current.next_attempt_at).enqueue(current.pk)
        current.save()
    outcome = "succeeded" if result.succeeded else f"failed: {result.error or result.status_code}"
    logger.info(
        "webhook %s attempt %s to endpoint %s %s",
        delivery.webhook_id,
        number,
        endpoint.pk,
        outcome,
    )
    return outcome


def deliveries_sweep() -> int:
    """Queue again the deliveries a worker claimed and never finished (it died: the lease
    has passed), and due ones whose queued task was lost. Returns how many."""
    from events.tasks import deliver

    now = timezone.now()
    stale = now - timedelta(seconds=max(300.0, settings.WEBHOOK_LEASE_SECONDS))
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(state=Delivery.State.PENDING)
            .filter(Q(lease_until__lt=now) | Q(lease_until__isnull=True, next_attempt_at__lt=stale))
            .values_list("pk", flat=True)[:1000]
        )
        Delivery.objects.filter(pk__in=ids).update(lease_until=None, next_attempt_at=now)
        for pk in ids:
            deliver.enqueue(pk)
    return len(ids)


def events_purge() -> int:
    """Delete events older than EVENT_RETENTION_DAYS (and their deliveries)."""
    cutoff = timezone.now() - timedelta(days=settings.EVENT_RETENTION_DAYS)
    deleted, _ = Event.objects.filter(created_at__lt=cutoff).delete()
    return deleted
