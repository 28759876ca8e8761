"""Delivery attempts against a real receiver on 127.0.0.1: signatures, retries, refusals."""

from __future__ import annotations

import itertools
import socket
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from events import services
from events.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint
from products.tests.factories import ProductFactory
from tests.receiver import receiving

pytestmark = pytest.mark.django_db


@pytest.fixture
def dev_guards(settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    settings.WEBHOOK_RETRY_SCHEDULE = [30, 120]
    return settings


@pytest.fixture
def receiver(dev_guards):
    with receiving() as running:
        yield running


def endpoint_for(url: str, **fields) -> WebhookEndpoint:
    return services.endpoint_create(url=url, **fields)


def dispatched_delivery(endpoint: WebhookEndpoint) -> Delivery:
    ProductFactory(quantity_in_stock=0)
    services.events_dispatch()
    return Delivery.objects.get(endpoint=endpoint)


def test_dispatch_creates_one_delivery_per_wanting_endpoint_and_queues_it(receiver):
    everything = endpoint_for(receiver.url)
    orders_only = endpoint_for(receiver.url, events=["order.submitted"])
    endpoint_for(receiver.url, is_active=False)

    ProductFactory(quantity_in_stock=3)
    dispatched = services.events_dispatch()

    assert dispatched == 3  # created, stock_changed, back_in_stock
    assert Delivery.objects.filter(endpoint=everything).count() == 3
    assert not Delivery.objects.filter(endpoint=orders_only).exists()
    assert services.deliveries_due_exist()
    assert services.events_dispatch() == 0


def test_a_delivery_is_signed_per_standard_webhooks_and_recorded(receiver):
    endpoint = endpoint_for(receiver.url)
    delivery = dispatched_delivery(endpoint)

    sent = services.deliver_due()

    assert sent == 1
    [request] = receiver.requests
    payload = Webhook(endpoint.secret).verify(request.body, request.headers)
    event = Event.objects.get(pk=delivery.event_id)
    assert payload == {
        "id": event.pk,
        "type": "product.created",
        "created_at": payload["created_at"],
        "data": event.data,
    }
    assert request.headers["webhook-id"] == delivery.webhook_id
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.lease_until) == ("succeeded", 1, None)
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.number, attempt.succeeded, attempt.status_code) == (1, True, 200)


def test_a_failed_attempt_is_retried_within_a_minute_with_the_same_webhook_id(receiver):
    receiver.answer = lambda seen, request: 503 if seen == 0 else 204
    receiver.body = b"busy " * 5000
    endpoint = endpoint_for(receiver.url)
    delivery = dispatched_delivery(endpoint)

    assert services.deliver_due() == 1
    delivery.refresh_from_db()
    assert (delivery.state, delivery.lease_until) == ("pending", None)
    assert timezone.now() < delivery.next_attempt_at < timezone.now() + timedelta(seconds=60)
    failed = DeliveryAttempt.objects.get()
    assert (failed.status_code, failed.succeeded) == (503, False)
    assert failed.error.startswith("busy")
    assert len(failed.error) <= 500
    # Not due yet: nothing is sent.
    assert services.deliver_due() == 0

    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert services.deliver_due() == 1
    delivery.refresh_from_db()
    assert delivery.state == "succeeded"

    first, second = receiver.requests
    assert first.webhook_id == second.webhook_id == delivery.webhook_id
    assert Webhook(endpoint.secret).verify(second.body, second.headers)
    assert [a.number for a in DeliveryAttempt.objects.order_by("number")] == [1, 2]


def test_the_delivery_fails_once_the_schedule_is_spent(receiver):
    receiver.answer = lambda seen, request: 500
    delivery = dispatched_delivery(endpoint_for(receiver.url))

    for _ in range(3):  # the first attempt and two retries (WEBHOOK_RETRY_SCHEDULE)
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        services.deliver_due()

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("failed", 3)
    assert len(receiver.requests) == 3


def test_the_default_schedule_retries_at_least_8_times_over_at_least_3_days():
    from django.conf import settings

    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    assert len(schedule) + 1 >= 8
    assert schedule[0] * 1.2 <= 60
    assert sum(schedule) >= 3 * 24 * 3600
    assert all(later >= earlier for earlier, later in itertools.pairwise(schedule))


def test_redirects_are_not_followed(receiver):
    receiver.answer = lambda seen, request: 302
    receiver.extra_headers = {"Location": "http://169.254.169.254/"}
    dispatched_delivery(endpoint_for(receiver.url))

    services.deliver_due()

    attempt = DeliveryAttempt.objects.get()
    assert (attempt.status_code, attempt.succeeded) == (302, False)
    assert "not followed" in attempt.error
    assert len(receiver.requests) == 1


def test_a_slow_receiver_is_a_failed_attempt(receiver, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    receiver.gate.clear()  # the receiver holds every request
    dispatched_delivery(endpoint_for(receiver.url))

    services.deliver_due()
    receiver.gate.set()

    attempt = DeliveryAttempt.objects.get()
    assert attempt.succeeded is False
    assert "timed out" in attempt.error


def test_private_addresses_are_refused_at_delivery_too(receiver, settings):
    endpoint = endpoint_for(receiver.url)
    dispatched_delivery(endpoint)
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False

    services.deliver_due()

    attempt = DeliveryAttempt.objects.get()
    assert attempt.succeeded is False
    assert "loopback" in attempt.error
    assert receiver.requests == []


def test_a_name_that_resolves_elsewhere_at_delivery_is_refused(receiver, settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    real = socket.getaddrinfo
    answers = {"hooks.example.com": "93.184.216.34"}

    def fake_getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    endpoint = endpoint_for(f"http://hooks.example.com:{receiver.port}/hooks")
    dispatched_delivery(endpoint)
    answers["hooks.example.com"] = "127.0.0.1"  # DNS rebinding after the check at save

    services.deliver_due()

    attempt = DeliveryAttempt.objects.get()
    assert "resolves to 127.0.0.1, a loopback address" in attempt.error
    assert receiver.requests == []


def test_two_workers_claim_different_deliveries(receiver):
    endpoint_for(receiver.url)
    for _ in range(3):
        ProductFactory(quantity_in_stock=0)
    services.events_dispatch()

    _, first = services.deliveries_claim(limit=2)
    _, second = services.deliveries_claim(limit=2)
    _, third = services.deliveries_claim(limit=2)

    assert (len(first), len(second), third) == (2, 1, [])
    assert not {d.pk for d in first} & {d.pk for d in second}


def test_a_claimed_delivery_is_not_sent_twice_until_its_lease_passes(receiver, settings):
    delivery = dispatched_delivery(endpoint_for(receiver.url))
    lease = timezone.now() + timedelta(seconds=60)
    Delivery.objects.filter(pk=delivery.pk).update(lease_until=lease)  # another worker has it

    assert services.deliver_due() == 0

    Delivery.objects.filter(pk=delivery.pk).update(
        lease_until=timezone.now() - timedelta(seconds=1)
    )
    # That worker died: the delivery is due again, for whoever comes next.
    assert services.deliver_due() == 1
    assert len(receiver.requests) == 1
    assert Delivery.objects.get(pk=delivery.pk).state == "succeeded"


def test_old_events_are_purged_with_their_deliveries(receiver, settings):
    settings.EVENT_RETENTION_DAYS = 30
    delivery = dispatched_delivery(endpoint_for(receiver.url))
    Event.objects.update(created_at=timezone.now() - timedelta(days=31))
    ProductFactory()

    services.events_purge()

    assert Event.objects.filter(pk=delivery.event_id).exists() is False
    assert not Delivery.objects.filter(pk=delivery.pk).exists()
    assert Event.objects.filter(type="product.created").count() == 1


def test_the_scheduler_enqueues_each_due_job_once_however_many_ticks(receiver):
    from events import scheduler

    scheduler.ensure_jobs()
    ProductFactory()

    first = scheduler.tick(periodic=True)
    second = scheduler.tick(periodic=True)

    assert sorted(first) == sorted(
        [
            "dispatch_events",
            "purge_events",
            "purge_idempotency_keys",
            "purge_task_results",
        ]
    )
    assert second == []


def test_the_purge_tasks_drop_old_idempotency_keys_and_finished_task_rows(buyer):
    from django_tasks_db.models import DBTaskResult

    from events import tasks
    from opply.models import IdempotencyRecord

    old = IdempotencyRecord.objects.create(user=buyer, key="k", fingerprint="f")
    IdempotencyRecord.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(days=3)
    )
    finished = tasks.purge_events.enqueue()
    DBTaskResult.objects.filter(pk=finished.id).update(
        status="SUCCESSFUL", enqueued_at=timezone.now() - timedelta(days=2)
    )
    waiting = tasks.purge_events.enqueue()

    tasks.purge_idempotency_keys.call()
    tasks.purge_task_results.call()

    assert not IdempotencyRecord.objects.filter(pk=old.pk).exists()
    assert list(DBTaskResult.objects.values_list("id", flat=True)) == [waiting.db_result.id]
