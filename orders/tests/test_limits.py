"""Numbers past what the database can hold are refused cleanly, never a 500 or a half write."""

import pytest

from orders.models import Order
from products.models import MAX_STOCK, Product, StockMovement
from products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_submit_refuses_a_total_larger_than_an_order_can_record(buyer_api, buyer):
    product = ProductFactory(price="9999999999.99", quantity_in_stock=100_000)
    cart = buyer_api.post(f"/products/{product.pk}/add_to_order/", {"quantity": 10_000}).json()

    response = buyer_api.post(f"/orders/{cart['id']}/submit/")

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "order_total_too_large"
    assert body["maximum"] == "999999999999.99"
    assert Product.objects.get(pk=product.pk).quantity_in_stock == 100_000
    assert Order.objects.get(pk=cart["id"]).status == Order.Status.ACTIVE
    assert not StockMovement.objects.filter(reason="submit").exists()


def test_one_shot_order_refuses_a_total_too_large_and_leaves_nothing(buyer_api):
    product = ProductFactory(price="9999999999.99", quantity_in_stock=100_000)

    response = buyer_api.post(
        "/orders/", {"items": [{"product": product.pk, "quantity": 10_000}]}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "order_total_too_large"
    assert not Order.objects.exists()
    assert Product.objects.get(pk=product.pk).quantity_in_stock == 100_000


def test_cancel_that_would_overflow_the_stock_column_is_refused(buyer_api, staff_api):
    product = ProductFactory(quantity_in_stock=10)
    placed = buyer_api.post(
        "/orders/", {"items": [{"product": product.pk, "quantity": 5}]}, format="json"
    ).json()
    assert (
        staff_api.patch(f"/products/{product.pk}/", {"quantity_in_stock": MAX_STOCK}).status_code
        == 200
    )

    response = buyer_api.post(f"/orders/{placed['id']}/cancel/")

    assert response.status_code == 409
    assert response.json()["code"] == "stock_limit_exceeded"
    assert Order.objects.get(pk=placed["id"]).status == Order.Status.SUBMITTED
    assert Product.objects.get(pk=product.pk).quantity_in_stock == MAX_STOCK


def test_submitting_a_cancelled_order_names_both_states(buyer_api):
    product = ProductFactory()
    placed = buyer_api.post(
        "/orders/", {"items": [{"product": product.pk, "quantity": 1}]}, format="json"
    ).json()
    buyer_api.post(f"/orders/{placed['id']}/cancel/")

    response = buyer_api.post(f"/orders/{placed['id']}/submit/")

    assert response.status_code == 409
    body = response.json()
    assert (body["code"], body["current"], body["target"]) == (
        "order_not_active",
        "cancelled",
        "submitted",
    )
