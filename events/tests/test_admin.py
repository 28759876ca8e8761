"""Webhooks in the admin: the secret shown once at creation, unsafe URLs refused, redelivery."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from events import services
from events.models import Delivery, WebhookEndpoint
from products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def test_adding_an_endpoint_shows_its_secret_once(admin_client):
    response = admin_client.post(
        "/admin/events/webhookendpoint/add/",
        {"url": "https://8.8.8.8/hooks", "events": ["order.submitted"], "is_active": "on"},
        follow=True,
    )

    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 200
    assert endpoint.secret in response.content.decode()
    assert endpoint.events == ["order.submitted"]
    assert (
        endpoint.secret
        not in admin_client.get(
            f"/admin/events/webhookendpoint/{endpoint.pk}/change/"
        ).content.decode()
    )


def test_an_unsafe_url_is_refused_in_the_admin(admin_client):
    response = admin_client.post(
        "/admin/events/webhookendpoint/add/", {"url": "https://10.0.0.1/", "is_active": "on"}
    )

    assert response.status_code == 200
    assert "private address" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_rotate_and_redeliver_actions(admin_client):
    endpoint = services.endpoint_create(url="https://8.8.8.8/hooks")
    old = endpoint.secret
    ProductFactory(quantity_in_stock=0)
    services.events_dispatch()
    delivery = Delivery.objects.get()
    Delivery.objects.update(state="failed")

    rotated = admin_client.post(
        "/admin/events/webhookendpoint/",
        {"action": "rotate_secret", "_selected_action": [endpoint.pk]},
        follow=True,
    )
    redelivered = admin_client.post(
        "/admin/events/delivery/",
        {"action": "redeliver", "_selected_action": [delivery.pk]},
        follow=True,
    )

    endpoint.refresh_from_db()
    assert endpoint.secret != old
    assert endpoint.secret in rotated.content.decode()
    assert redelivered.status_code == 200
    assert Delivery.objects.get().state == "pending"
    page = admin_client.get(f"/admin/events/delivery/{delivery.pk}/change/")
    assert page.status_code == 200
