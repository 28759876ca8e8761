"""A token's answer kept in Redis: one round trip for the token and the user's hit, and no
answer outlives a revocation, a deactivation or a privilege taken away."""

from __future__ import annotations

import hashlib
import os
from unittest import mock

import pytest
import redis
from django.db import connection
from django.http import HttpRequest
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts import token_cache
from accounts.services import token_get_or_create
from opply.throttles import RedisCounterStore, counter_key, counter_store

pytestmark = pytest.mark.django_db

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/4")


@pytest.fixture(autouse=True)
def _redis(settings) -> None:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {REDIS_URL} (TEST_REDIS_URL)")
    settings.REDIS_URL = REDIS_URL
    settings.TOKEN_CACHE_SECONDS = 60


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def raw_entry(key: str) -> bytes | None:
    store = counter_store()
    assert isinstance(store, RedisCounterStore)
    value = store.client.get(token_cache.entry_key(key))
    assert not isinstance(value, str)  # the client answers bytes
    return value


def token_queries(client: APIClient, path: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        status = client.get(path).status_code
    return status, [q["sql"] for q in queries if "authtoken_token" in q["sql"]]


def test_after_the_first_request_the_token_is_not_read_from_the_database(buyer):
    key = token_get_or_create(user=buyer).key
    client = client_with(key)

    first_status, first_reads = token_queries(client, "/orders/")
    second_status, second_reads = token_queries(client, "/orders/")

    assert (first_status, second_status) == (200, 200)
    assert len(first_reads) == 1
    assert second_reads == []
    assert client.get("/orders/current/").json()["buyer"] == {"id": buyer.pk, "username": "buyer"}


def test_the_cached_request_counts_its_hit_in_the_same_round_trip(buyer, settings):
    settings.THROTTLE_USER_RATE = "5/min"
    client = client_with(token_get_or_create(user=buyer).key)
    client.get("/orders/")  # fills the cache, counted by the throttle's own call

    with mock.patch.object(RedisCounterStore, "hit", autospec=True) as separate_hit:
        statuses = [client.get("/orders/").status_code for _ in range(6)]

    separate_hit.assert_not_called()
    assert statuses == [200, 200, 200, 200, 429, 429]
    store = counter_store()
    assert isinstance(store, RedisCounterStore)
    assert int(store.client.get(counter_key("user", str(buyer.pk)))) == 7


def test_a_view_that_does_not_throttle_users_counts_nothing(buyer, settings):
    settings.THROTTLE_USER_RATE = "100/min"
    key = token_get_or_create(user=buyer).key
    client = client_with(key)
    client.get("/orders/")
    store = counter_store()
    assert isinstance(store, RedisCounterStore)
    before = int(store.client.get(counter_key("user", str(buyer.pk))))

    response = client.delete("/token/")  # the token view counts logins, not users

    assert response.status_code == 204
    assert int(store.client.get(counter_key("user", str(buyer.pk)))) == before


def test_revoking_the_token_refuses_it_at_once(buyer):
    key = token_get_or_create(user=buyer).key
    client = client_with(key)
    assert client.get("/orders/").status_code == 200
    assert raw_entry(key) not in (None, token_cache.STALE)

    assert client.delete("/token/").status_code == 204
    response = client.get("/orders/")

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert raw_entry(key) == token_cache.STALE
    assert not Token.objects.filter(key=key).exists()


def test_deleting_the_token_in_the_admin_refuses_it_at_once(admin_client, buyer):
    key = token_get_or_create(user=buyer).key
    client = client_with(key)
    assert client.get("/orders/").status_code == 200

    deleted = admin_client.post(
        f"/admin/authtoken/tokenproxy/{buyer.pk}/delete/", {"post": "yes"}, follow=False
    )

    assert deleted.status_code == 302
    assert not Token.objects.filter(key=key).exists()
    assert client.get("/orders/").status_code == 401


def test_deactivating_the_user_refuses_the_token_at_once(buyer):
    key = token_get_or_create(user=buyer).key
    client = client_with(key)
    assert client.get("/orders/").status_code == 200

    buyer.is_active = False
    buyer.save()

    assert client.get("/orders/").status_code == 401


def test_taking_staff_away_is_seen_at_once(staff):
    key = token_get_or_create(user=staff).key
    client = client_with(key)
    body = {"name": "Oat flour", "price": "2.50", "quantity_in_stock": 5}
    assert client.post("/products/", body, format="json").status_code == 201

    staff.is_staff = False
    staff.save(update_fields=["is_staff"])
    response = client.post("/products/", {**body, "name": "Rye flour"}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_a_last_login_update_keeps_the_cached_answer(buyer):
    key = token_get_or_create(user=buyer).key
    client_with(key).get("/orders/")
    kept = raw_entry(key)

    buyer.save(update_fields=["last_login"])

    assert raw_entry(key) == kept != token_cache.STALE


def test_an_answer_read_before_a_revocation_is_not_put_back(buyer):
    token = token_get_or_create(user=buyer)
    # A request read the token from the database; the revocation marks it stale and commits
    # before that request writes what it read.
    token_cache.forget(token.key)
    Token.objects.filter(key=token.key).delete()
    token_cache.remember(token, buyer)

    assert raw_entry(token.key) == token_cache.STALE
    assert client_with(token.key).get("/orders/").status_code == 401


def test_redis_holds_neither_the_key_nor_the_password(buyer):
    key = token_get_or_create(user=buyer).key
    client_with(key).get("/orders/")
    store = counter_store()
    assert isinstance(store, RedisCounterStore)

    entry = raw_entry(key)
    names = [name.decode() for name in store.client.keys(f"{counter_key('token', '')}*")]

    assert entry is not None
    assert entry.startswith(f"{buyer.pk}|".encode())
    assert buyer.password.encode() not in entry
    assert key.encode() not in entry
    assert names == [counter_key("token", hashlib.sha256(key.encode()).hexdigest())]
    assert 0 < store.client.ttl(names[0]) <= 60


def test_the_cached_user_is_the_users_own(buyer):
    key = token_get_or_create(user=buyer).key
    client_with(key).get("/orders/")

    user, token = token_cache.lookup(HttpRequest(), key, lambda: None) or (None, None)

    assert user is not None
    assert token is not None
    assert (user.pk, user.username, user.is_staff, user.is_active) == (
        buyer.pk,
        buyer.username,
        False,
        True,
    )
    assert user.date_joined == buyer.date_joined
    assert token.created == Token.objects.get(key=key).created
    assert user.get_deferred_fields() == {"password", "last_login"}
    assert user.password == buyer.password  # read from the database when asked


def test_no_cache_when_it_is_switched_off(buyer, settings):
    settings.TOKEN_CACHE_SECONDS = 0
    key = token_get_or_create(user=buyer).key
    client = client_with(key)

    client.get("/orders/")
    status, reads = token_queries(client, "/orders/")

    assert status == 200
    assert len(reads) == 1
    assert raw_entry(key) is None


def test_a_process_with_the_cache_off_still_marks_entries_stale(staff, settings):
    key = token_get_or_create(user=staff).key
    client = client_with(key)
    client.get("/orders/")  # cached by a process with the cache on
    settings.TOKEN_CACHE_SECONDS = 0  # an admin or a shell that does not read entries

    staff.is_staff = False
    staff.save()
    settings.TOKEN_CACHE_SECONDS = 60
    response = client.post("/products/", {"name": "Spelt", "price": "1.00"}, format="json")

    assert raw_entry(key) == token_cache.STALE
    assert response.status_code == 403


def test_a_token_issued_while_a_privilege_is_being_taken_away_is_marked_stale_on_commit(
    staff, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        staff.is_staff = False
        staff.save()
        # Before the change commits: a new login, whose first request read the user as it
        # was and cached that answer.
        token = token_get_or_create(user=staff)
        staff.is_staff = True
        token_cache.remember(token, staff)
        staff.is_staff = False
        assert raw_entry(token.key) not in (None, token_cache.STALE)

    assert len(callbacks) == 1
    assert raw_entry(token.key) == token_cache.STALE
    response = client_with(token.key).post(
        "/products/", {"name": "Spelt", "price": "1.00"}, format="json"
    )
    assert response.status_code == 403


def test_redis_out_of_reach_is_a_503_with_retry_after_not_a_500(buyer, monkeypatch):
    key = token_get_or_create(user=buyer).key

    def unreachable(*args, **kwargs):
        raise redis.ConnectionError("Connection refused")

    monkeypatch.setattr(RedisCounterStore, "read_and_hit", unreachable)
    response = client_with(key).get("/orders/")

    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    assert response.json()["detail"] == "The shared store is unavailable; retry shortly."
    assert response["Retry-After"].isdigit()
