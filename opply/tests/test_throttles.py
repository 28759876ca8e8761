"""Request throttles for signed-in and anonymous callers, counted in the shared counter store."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.services import token_get_or_create
from opply import throttles
from opply.throttles import AnonThrottle, UserThrottle, counter_key, counter_store

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent.parent
ANON_PATH = "/api/docs/"  # open to anonymous callers and throttled like every API view


def client_with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def assert_throttled(response) -> None:
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    body = response.json()
    assert body["code"] == "throttled"
    assert "request_id" in body


@override_settings(THROTTLE_USER_RATE="3/min")
def test_a_signed_in_caller_over_the_rate_gets_429_with_retry_after(buyer_api):
    allowed = [buyer_api.get("/products/").status_code for _ in range(3)]

    response = buyer_api.get("/products/")

    assert allowed == [200, 200, 200]
    assert_throttled(response)


@override_settings(THROTTLE_USER_RATE="3/min")
def test_writes_count_against_the_same_rate(buyer_api, product):
    buyer_api.get("/products/")
    buyer_api.get("/orders/current/")
    assert buyer_api.post(f"/products/{product.pk}/add_to_order/").status_code == 200

    assert_throttled(buyer_api.post(f"/products/{product.pk}/add_to_order/"))


@override_settings(THROTTLE_USER_RATE="3/min")
def test_each_user_has_a_count_of_their_own(buyer_api, other_api):
    for _ in range(3):
        buyer_api.get("/products/")

    assert_throttled(buyer_api.get("/products/"))
    assert other_api.get("/products/").status_code == 200


@override_settings(THROTTLE_USER_RATE="3/min")
def test_the_count_is_per_user_not_per_client(buyer):
    # Two clients, as two server processes would see them: one shared count.
    key = token_get_or_create(user=buyer).key
    first, second = client_with_token(key), client_with_token(key)

    assert [first.get("/products/").status_code for _ in range(2)] == [200, 200]
    assert second.get("/products/").status_code == 200
    assert_throttled(second.get("/products/"))
    assert_throttled(first.get("/products/"))


@override_settings(THROTTLE_USER_RATE="3/min")
def test_the_count_lives_in_the_counter_store(buyer_api, buyer):
    for _ in range(3):
        buyer_api.get("/products/")

    hits, remaining = counter_store().hit(counter_key("user", str(buyer.pk)), 60)

    assert hits == 4
    assert 0 < remaining <= 60
    assert_throttled(buyer_api.get("/products/"))


@override_settings(THROTTLE_USER_RATE="3/min")
def test_a_refused_request_does_not_extend_the_window(buyer_api, buyer, monkeypatch):
    started = time.time()
    monkeypatch.setattr(throttles.time, "time", lambda: started)
    for _ in range(5):
        buyer_api.get("/products/")
    monkeypatch.setattr(throttles.time, "time", lambda: started + 30)

    response = buyer_api.get("/products/")

    assert_throttled(response)
    # Fixed window from the first request: Retry-After is what is left of it (30 s of 60),
    # not a full period counted from the latest refusal.
    assert 29 <= int(response["Retry-After"]) <= 31
    hits, _ = counter_store().hit(counter_key("user", str(buyer.pk)), 60)
    assert hits == 7


@override_settings(THROTTLE_ANON_RATE="2/min")
def test_an_anonymous_caller_over_the_rate_gets_429_with_retry_after(api):
    allowed = [api.get(ANON_PATH).status_code for _ in range(2)]

    response = api.get(ANON_PATH)

    assert allowed == [200, 200]
    assert_throttled(response)


@override_settings(THROTTLE_ANON_RATE="2/min")
def test_anonymous_callers_share_a_count_per_address_across_clients(db):
    first, second = APIClient(), APIClient()

    assert first.get(ANON_PATH).status_code == 200
    assert second.get(ANON_PATH).status_code == 200
    assert_throttled(first.get(ANON_PATH))
    assert counter_store().hit(counter_key("anon", "127.0.0.1"), 60)[0] == 4
    assert_throttled(second.get(ANON_PATH, REMOTE_ADDR="127.0.0.1"))
    assert second.get(ANON_PATH, REMOTE_ADDR="192.0.2.7").status_code == 200


@override_settings(THROTTLE_ANON_RATE="1/min", THROTTLE_USER_RATE="100/min")
def test_the_anonymous_rate_does_not_apply_to_signed_in_callers(buyer_api, api):
    api.get(ANON_PATH)

    assert_throttled(api.get(ANON_PATH))
    assert [buyer_api.get("/products/").status_code for _ in range(3)] == [200, 200, 200]


@override_settings(THROTTLE_USER_RATE=None, THROTTLE_ANON_RATE=None)
def test_no_rate_means_no_throttle(buyer_api, api, buyer):
    assert {buyer_api.get("/products/").status_code for _ in range(20)} == {200}
    assert {api.get(ANON_PATH).status_code for _ in range(20)} == {200}
    assert counter_store().hit(counter_key("user", str(buyer.pk)), 60)[0] == 1


def test_health_probes_are_never_throttled(api):
    with override_settings(THROTTLE_ANON_RATE="1/min"):
        statuses = {api.get("/healthz").status_code for _ in range(5)}

    assert statuses == {200}


def test_throttles_read_their_rates_from_the_settings():
    with override_settings(THROTTLE_USER_RATE="7/hour", THROTTLE_ANON_RATE="5/s"):
        user, anon = UserThrottle(), AnonThrottle()

    assert user.parse_rate(user.rate) == (7, 3600)
    assert anon.parse_rate(anon.rate) == (5, 1)


def settings_in_a_fresh_process(**env: str) -> list[str]:
    """THROTTLE_USER_RATE and THROTTLE_ANON_RATE as opply.settings reads them from `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("THROTTLE_")}
    code = (
        "import django, os\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'opply.settings')\n"
        "django.setup()\n"
        "from django.conf import settings\n"
        "print(repr(settings.THROTTLE_USER_RATE))\n"
        "print(repr(settings.THROTTLE_ANON_RATE))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "SECRET_KEY": "x", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_default_rates_are_generous_and_empty_disables():
    local = ROOT / ".env"
    if not (local.exists() and "THROTTLE_" in local.read_text()):
        assert settings_in_a_fresh_process() == ["'6000/min'", "'600/min'"]
    assert settings_in_a_fresh_process(THROTTLE_USER_RATE="", THROTTLE_ANON_RATE="") == [
        "None",
        "None",
    ]
    assert settings_in_a_fresh_process(THROTTLE_USER_RATE="10/s", THROTTLE_ANON_RATE="1/min") == [
        "'10/s'",
        "'1/min'",
    ]


def test_env_example_documents_both_rates_and_their_defaults():
    text = (ROOT / ".env.example").read_text()

    assert "THROTTLE_USER_RATE=6000/min" in text
    assert "THROTTLE_ANON_RATE=600/min" in text
    assert "empty disables" in text
