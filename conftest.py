"""Fixtures shared by every app's tests."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from orders.tests.factories import UserFactory
from products.tests.factories import ProductFactory


@pytest.fixture(autouse=True)
def _cache_of_its_own(settings):
    """Throttle counts never leak from one test into another: each test counts under a key
    prefix of its own (the counter store of opply/throttles.py is not rolled back with the
    test's transaction), and a Redis cache (REDIS_URL) gets its own prefix too."""
    prefix = f"test-{uuid.uuid4().hex}"
    settings.THROTTLE_KEY_PREFIX = prefix
    default = settings.CACHES["default"]
    if "redis" in default["BACKEND"].lower():
        settings.CACHES = {"default": {**default, "KEY_PREFIX": prefix}}


@pytest.fixture
def api() -> APIClient:
    """An anonymous client."""
    return APIClient()


def _client_for(user) -> APIClient:
    from accounts.services import token_get_or_create

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_get_or_create(user=user).key}")
    client.user = user  # type: ignore[attr-defined]
    return client


@pytest.fixture
def buyer(db):
    return UserFactory(username="buyer")


@pytest.fixture
def other_buyer(db):
    return UserFactory(username="other")


@pytest.fixture
def staff(db):
    return UserFactory(username="staff", is_staff=True)


@pytest.fixture
def buyer_api(buyer) -> APIClient:
    return _client_for(buyer)


@pytest.fixture
def other_api(other_buyer) -> APIClient:
    return _client_for(other_buyer)


@pytest.fixture
def staff_api(staff) -> APIClient:
    return _client_for(staff)


@pytest.fixture
def product(db):
    return ProductFactory(name="Product 1", price="11.11", quantity_in_stock=10)
