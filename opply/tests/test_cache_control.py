"""Private responses carry `Cache-Control: private, no-store`; public ones are left alone."""

import base64

import pytest
from django.test import Client

from orders.tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def directives(response) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


@pytest.mark.parametrize("path", ["/products/", "/orders/", "/orders/current/"])
def test_authenticated_responses_are_private_and_not_stored(buyer_api, product, path):
    response = buyer_api.get(path)

    assert response.status_code == 200
    assert {"private", "no-store"} <= directives(response)


def test_a_product_detail_and_a_write_are_not_stored(buyer_api, product):
    detail = buyer_api.get(f"/products/{product.pk}/")
    added = buyer_api.post(f"/products/{product.pk}/add_to_order/")

    assert {"private", "no-store"} <= directives(detail)
    assert {"private", "no-store"} <= directives(added)


def test_both_ways_to_get_a_token_are_not_stored(api, buyer):
    basic = base64.b64encode(f"{buyer.username}:{PASSWORD}".encode()).decode()
    by_get = api.get("/token/", HTTP_AUTHORIZATION=f"Basic {basic}")
    by_post = api.post("/token/", {"username": buyer.username, "password": PASSWORD})
    refused = api.post("/token/", {"username": buyer.username, "password": "wrong"})

    assert (by_get.status_code, by_post.status_code, refused.status_code) == (200, 200, 401)
    for response in (by_get, by_post, refused):
        assert {"private", "no-store"} <= directives(response)


def test_a_signed_in_session_gets_no_store_too(buyer, product):
    client = Client()
    client.force_login(buyer)

    response = client.get("/products/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert {"private", "no-store"} <= directives(response)


def test_anonymous_public_responses_carry_no_cache_control_of_ours(api):
    assert "no-store" not in directives(api.get("/healthz"))
    assert "no-store" not in directives(api.get("/api/schema/"))
