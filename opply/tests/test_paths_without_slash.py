"""Every API path answers with and without its trailing slash; a write is never redirected."""

import base64

import pytest
from django.test import override_settings

from orders.models import Order
from orders.tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_post_orders_without_the_slash_places_the_order(buyer_api, buyer, product):
    body = {"items": [{"product": product.pk, "quantity": 2}]}

    response = buyer_api.post("/orders", body, format="json")

    assert response.status_code == 201
    assert response.json()["status"] == "submitted"
    assert Order.objects.get(user=buyer).status == "submitted"
    product.refresh_from_db()
    assert product.quantity_in_stock == 8


def test_cart_actions_and_submit_without_the_slash(buyer_api, buyer, product):
    added = buyer_api.post(f"/products/{product.pk}/add_to_order", {"quantity": 2}, format="json")
    order = Order.objects.get(user=buyer)
    submitted = buyer_api.post(f"/orders/{order.pk}/submit")

    assert added.status_code == 200
    assert added.json()["items"][0]["quantity"] == 2
    assert submitted.status_code == 200
    order.refresh_from_db()
    assert order.status == "submitted"


def test_reads_without_the_slash_are_served_not_redirected(buyer_api, product):
    for path in ["/products", f"/products/{product.pk}", "/orders", "/orders/current"]:
        response = buyer_api.get(path)
        assert response.status_code == 200, path


def test_token_without_the_slash(api, buyer):
    by_post = api.post("/token", {"username": buyer.username, "password": PASSWORD})
    basic = base64.b64encode(f"{buyer.username}:{PASSWORD}".encode()).decode()
    by_get = api.get("/token", HTTP_AUTHORIZATION=f"Basic {basic}")

    assert (by_post.status_code, by_get.status_code) == (200, 200)
    assert by_post.json()["token"] == by_get.json()["token"]


def test_a_staff_put_without_the_slash_is_applied(staff_api, product):
    response = staff_api.patch(f"/products/{product.pk}", {"name": "Renamed"}, format="json")

    assert response.status_code == 200
    product.refresh_from_db()
    assert product.name == "Renamed"


@override_settings(DEBUG=False)
def test_an_unknown_path_without_the_slash_is_a_json_404(buyer_api):
    response = buyer_api.post("/nowhere", {}, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_paths_without_a_slash_of_their_own_are_unchanged(api):
    response = api.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    # Served as routed, not rewritten: the slashed form is no path of its own.
    assert api.get("/healthz/").status_code == 404
