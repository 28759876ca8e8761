"""Idempotency-Key on state-changing POSTs, through the test client (docs/api.md, "Idempotency").
Concurrent duplicates are covered by the system tests in tests/."""

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.test import override_settings
from django.utils import timezone

from opply.models import IdempotencyRecord
from orders import services
from orders.models import Order, OrderLine
from products.models import Product, StockMovement
from products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def add(client, product_id, key, quantity=1, **extra):
    return client.post(
        f"/products/{product_id}/add_to_order/",
        {"quantity": quantity},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
        **extra,
    )


def age(key: str, *, hours: int) -> None:
    IdempotencyRecord.objects.filter(key=key).update(
        created_at=timezone.now() - timedelta(hours=hours)
    )


def line_quantities(user) -> list[int]:
    return list(
        OrderLine.objects.filter(order__user=user, order__status="active").values_list(
            "quantity", flat=True
        )
    )


def test_retry_of_add_to_order_is_replayed_and_applied_once(buyer_api, buyer, product):
    first = add(buyer_api, product.pk, "k-1", quantity=2)
    retry = add(buyer_api, product.pk, "k-1", quantity=2)

    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert line_quantities(buyer) == [2]
    record = IdempotencyRecord.objects.get(user=buyer, key="k-1")
    assert record.response_status == 200
    assert record.response_body == first.json()


def test_without_a_key_every_request_has_its_effect(buyer_api, buyer, product):
    for _ in range(2):
        buyer_api.post(f"/products/{product.pk}/add_to_order/", {"quantity": 2}, format="json")

    assert line_quantities(buyer) == [4]
    assert not IdempotencyRecord.objects.exists()


def test_retry_of_submit_replays_200_and_takes_stock_once(buyer_api, buyer, product):
    order_id = add(buyer_api, product.pk, "cart", quantity=3).json()["id"]

    first = buyer_api.post(f"/orders/{order_id}/submit/", HTTP_IDEMPOTENCY_KEY="submit-1")
    retry = buyer_api.post(f"/orders/{order_id}/submit/", HTTP_IDEMPOTENCY_KEY="submit-1")
    fresh = buyer_api.post(f"/orders/{order_id}/submit/", HTTP_IDEMPOTENCY_KEY="submit-2")

    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json()
    assert fresh.status_code == 409
    product.refresh_from_db()
    assert product.quantity_in_stock == 7
    assert StockMovement.objects.filter(reason="submit", order_id=order_id).count() == 1


def test_retry_of_product_create_makes_one_product(staff_api):
    body = {"name": "Once", "price": "1.00", "quantity_in_stock": 5}

    first = staff_api.post("/products/", body, format="json", HTTP_IDEMPOTENCY_KEY="p")
    retry = staff_api.post("/products/", body, format="json", HTTP_IDEMPOTENCY_KEY="p")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert Product.objects.filter(name="Once").count() == 1
    assert StockMovement.objects.filter(reason="initial").count() == 1


def test_retry_of_place_order_makes_one_order(buyer_api, buyer, product):
    body = {"items": [{"product": product.pk, "quantity": 4}]}

    first = buyer_api.post("/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="place")
    retry = buyer_api.post("/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="place")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert Order.objects.filter(user=buyer).count() == 1
    product.refresh_from_db()
    assert product.quantity_in_stock == 6


def test_same_key_with_another_body_is_422(buyer_api, buyer, product):
    add(buyer_api, product.pk, "k", quantity=1)

    response = add(buyer_api, product.pk, "k", quantity=2)

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert line_quantities(buyer) == [1]


def test_same_key_on_another_path_is_422(buyer_api, buyer, product):
    other = ProductFactory()
    add(buyer_api, product.pk, "k")

    response = add(buyer_api, other.pk, "k")

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert list(
        OrderLine.objects.filter(order__user=buyer).values_list("product_id", flat=True)
    ) == [product.pk]


def test_same_key_on_another_endpoint_is_422(buyer_api, buyer, product):
    order_id = add(buyer_api, product.pk, "k").json()["id"]

    response = buyer_api.post(f"/orders/{order_id}/submit/", HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 422
    assert Order.objects.get(pk=order_id).status == "active"


@pytest.mark.parametrize("key", ["x" * 256, "   "])
def test_unusable_key_is_400_and_does_nothing(buyer_api, buyer, product, key):
    response = add(buyer_api, product.pk, key)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]
    assert line_quantities(buyer) == []
    assert not IdempotencyRecord.objects.exists()


def test_key_of_255_characters_is_accepted(buyer_api, buyer, product):
    key = "k" * 255

    first = add(buyer_api, product.pk, key)
    retry = add(buyer_api, product.pk, key)

    assert first.status_code == retry.status_code == 200
    assert line_quantities(buyer) == [1]


def test_keys_are_per_user(buyer_api, other_api, buyer, other_buyer, product):
    mine = add(buyer_api, product.pk, "shared", quantity=2)
    theirs = add(other_api, product.pk, "shared", quantity=2)

    assert mine.status_code == theirs.status_code == 200
    assert mine.json()["id"] != theirs.json()["id"]
    assert line_quantities(buyer) == [2]
    assert line_quantities(other_buyer) == [2]
    assert IdempotencyRecord.objects.filter(key="shared").count() == 2


def test_stored_409_is_replayed_even_after_stock_arrives(buyer_api, buyer, product):
    refused = add(buyer_api, product.pk, "big", quantity=11)
    Product.objects.filter(pk=product.pk).update(quantity_in_stock=100)

    retry = add(buyer_api, product.pk, "big", quantity=11)

    assert refused.status_code == retry.status_code == 409
    assert retry.json() == refused.json()
    assert retry.json()["code"] == "insufficient_stock"
    assert line_quantities(buyer) == []


def test_stored_404_is_replayed(buyer_api, buyer):
    first = buyer_api.post("/orders/424242/submit/", HTTP_IDEMPOTENCY_KEY="missing")
    retry = buyer_api.post("/orders/424242/submit/", HTTP_IDEMPOTENCY_KEY="missing")

    assert first.status_code == retry.status_code == 404
    assert retry.json() == first.json()


@override_settings(IDEMPOTENCY_KEY_TTL_HOURS=24)
def test_expired_key_runs_afresh(buyer_api, buyer, product):
    add(buyer_api, product.pk, "old", quantity=2)
    age("old", hours=25)

    response = add(buyer_api, product.pk, "old", quantity=2)

    assert response.status_code == 200
    assert "Idempotent-Replayed" not in response
    assert line_quantities(buyer) == [4]
    record = IdempotencyRecord.objects.get(key="old")
    assert record.created_at > timezone.now() - timedelta(hours=1)
    assert record.response_body == response.json()


@override_settings(IDEMPOTENCY_KEY_TTL_HOURS=24)
def test_expired_key_may_carry_another_request(buyer_api, buyer, product):
    add(buyer_api, product.pk, "old", quantity=2)
    age("old", hours=25)

    response = add(buyer_api, product.pk, "old", quantity=3)

    assert response.status_code == 200
    assert line_quantities(buyer) == [5]


@override_settings(IDEMPOTENCY_KEY_TTL_HOURS=24)
def test_key_within_its_lifetime_is_replayed(buyer_api, buyer, product):
    add(buyer_api, product.pk, "recent", quantity=2)
    age("recent", hours=23)

    response = add(buyer_api, product.pk, "recent", quantity=2)

    assert response["Idempotent-Replayed"] == "true"
    assert line_quantities(buyer) == [2]


def test_key_of_a_request_that_died_is_taken_over_and_runs_once(
    buyer_api, buyer, product, monkeypatch
):
    real_add_item = services.order_add_item

    def dies_after_writing(**kwargs):
        real_add_item(**kwargs)
        raise RuntimeError("worker killed")

    monkeypatch.setattr(services, "order_add_item", dies_after_writing)
    buyer_api.raise_request_exception = False
    died = add(buyer_api, product.pk, "retry-me", quantity=2)
    monkeypatch.setattr(services, "order_add_item", real_add_item)

    record = IdempotencyRecord.objects.get(key="retry-me")
    assert died.status_code == 500
    assert record.response_status is None
    assert line_quantities(buyer) == []

    retry = add(buyer_api, product.pk, "retry-me", quantity=2)
    again = add(buyer_api, product.pk, "retry-me", quantity=2)

    assert retry.status_code == 200
    assert "Idempotent-Replayed" not in retry
    assert again.json() == retry.json()
    assert again["Idempotent-Replayed"] == "true"
    assert line_quantities(buyer) == [2]


def test_database_outage_is_not_stored_and_the_retry_runs(buyer_api, buyer, product, monkeypatch):
    real_submit = services.order_submit
    order_id = add(buyer_api, product.pk, "cart").json()["id"]

    def unavailable(**kwargs):
        raise OperationalError("connection lost")

    monkeypatch.setattr(services, "order_submit", unavailable)
    outage = buyer_api.post(f"/orders/{order_id}/submit/", HTTP_IDEMPOTENCY_KEY="s")
    monkeypatch.setattr(services, "order_submit", real_submit)
    retry = buyer_api.post(f"/orders/{order_id}/submit/", HTTP_IDEMPOTENCY_KEY="s")

    assert outage.status_code == 503
    assert retry.status_code == 200
    assert Order.objects.get(pk=order_id).status == "submitted"
    product.refresh_from_db()
    assert product.quantity_in_stock == 9


def test_validation_error_is_stored_and_replayed(buyer_api, buyer, product):
    first = add(buyer_api, product.pk, "bad", quantity=0)
    retry = add(buyer_api, product.pk, "bad", quantity=0)

    assert first.status_code == retry.status_code == 400
    assert retry.json() == first.json()
    assert IdempotencyRecord.objects.get(key="bad").response_status == 400
