"""/token/: issue with HTTP Basic or credentials, revoke, and the failed-login throttle."""

import base64

import pytest
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from orders.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

THREE_PER_MINUTE = override_settings(THROTTLE_LOGIN_RATE="3/min")


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def get_token(client: APIClient, username: str, password: str, **extra):
    return client.get("/token/", HTTP_AUTHORIZATION=basic(username, password), **extra)


def assert_unauthenticated(response) -> None:
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response["WWW-Authenticate"].startswith("Basic")
    body = response.json()
    assert set(body) >= {"detail", "code", "request_id"}
    assert body["code"] in {"authentication_failed", "not_authenticated"}


def test_basic_auth_get_returns_the_same_key_on_every_call(api, buyer):
    first = get_token(api, "buyer", PASSWORD)
    second = get_token(api, "buyer", PASSWORD)

    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() == {"token": Token.objects.get(user=buyer).key}
    assert Token.objects.filter(user=buyer).count() == 1


def test_post_with_json_credentials_returns_the_token(api, buyer):
    response = api.post("/token/", {"username": "buyer", "password": PASSWORD}, format="json")

    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=buyer).key}


def test_post_with_form_credentials_returns_the_same_token_as_basic(api, buyer):
    basic_key = get_token(api, "buyer", PASSWORD).json()["token"]

    response = api.post("/token/", {"username": "buyer", "password": PASSWORD}, format="multipart")
    urlencoded = api.post(
        "/token/",
        f"username=buyer&password={PASSWORD.replace(' ', '+')}",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == urlencoded.status_code == 200
    assert response.json() == urlencoded.json() == {"token": basic_key}


def test_issued_token_authenticates_api_calls(api, buyer):
    key = get_token(api, "buyer", PASSWORD).json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert api.get("/products/").status_code == 200


def test_wrong_password_is_401_json_with_www_authenticate(api, buyer):
    response = get_token(api, "buyer", "wrong")

    assert_unauthenticated(response)
    assert response.json()["code"] == "authentication_failed"
    assert not Token.objects.filter(user=buyer).exists()


def test_wrong_password_by_post_is_401(api, buyer):
    response = api.post("/token/", {"username": "buyer", "password": "wrong"}, format="json")

    assert_unauthenticated(response)
    assert not Token.objects.exists()


def test_unknown_user_is_401(api, db):
    assert_unauthenticated(get_token(api, "nobody", PASSWORD))


def test_missing_authorization_header_is_401(api, buyer):
    response = api.get("/token/")

    assert_unauthenticated(response)
    assert response.json()["code"] == "not_authenticated"


def test_token_scheme_is_not_accepted_for_get_token(buyer_api):
    assert_unauthenticated(buyer_api.get("/token/"))


@pytest.mark.parametrize(
    "header",
    [
        "Basic",
        "Basic ",
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon-here").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
        "Bearer abc",
    ],
)
def test_malformed_basic_header_is_401(api, buyer, header):
    assert_unauthenticated(api.get("/token/", HTTP_AUTHORIZATION=header))


@pytest.mark.parametrize(
    "body",
    [{}, {"username": "buyer"}, {"password": PASSWORD}, {"username": ["buyer"], "password": 1}],
)
def test_post_with_missing_or_wrong_fields_is_400(api, buyer, body):
    response = api.post("/token/", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["errors"]
    assert not Token.objects.exists()


def test_inactive_user_is_401(api, db):
    user = UserFactory(username="gone", is_active=False)

    assert_unauthenticated(get_token(api, "gone", PASSWORD))
    assert not Token.objects.filter(user=user).exists()


def test_delete_revokes_the_token_and_the_next_get_issues_a_new_key(api, buyer):
    old_key = get_token(api, "buyer", PASSWORD).json()["token"]
    holder = APIClient()
    holder.credentials(HTTP_AUTHORIZATION=f"Token {old_key}")

    revoked = holder.delete("/token/")

    assert revoked.status_code == 204
    assert not Token.objects.filter(user=buyer).exists()
    refused = holder.get("/products/")
    assert refused.status_code == 401
    assert refused.json()["code"] == "authentication_failed"
    new_key = get_token(api, "buyer", PASSWORD).json()["token"]
    assert new_key != old_key
    assert Token.objects.get(user=buyer).key == new_key


def test_delete_without_a_token_is_401(api, buyer):
    response = api.delete("/token/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")
    assert response.json()["code"] == "not_authenticated"


@THREE_PER_MINUTE
def test_failed_logins_per_address_and_username_are_throttled_with_retry_after(api, buyer):
    failures = [
        get_token(api, "buyer", "wrong", REMOTE_ADDR="10.0.0.1").status_code for _ in range(3)
    ]
    throttled = get_token(api, "buyer", "wrong", REMOTE_ADDR="10.0.0.1")
    right_password = get_token(api, "buyer", PASSWORD, REMOTE_ADDR="10.0.0.1")

    assert failures == [401, 401, 401]
    for response in (throttled, right_password):
        assert response.status_code == 429
        assert response.json()["code"] == "throttled"
        assert 0 < int(response["Retry-After"]) <= 60
    assert not Token.objects.exists()


def test_a_guesser_elsewhere_does_not_lock_the_real_user_out(api, buyer):
    # The review's probe, at the default rates: 10 wrong passwords from one address, then
    # the right one from another address.
    guesses = {
        get_token(api, "buyer", "wrong", REMOTE_ADDR="10.0.3.1").status_code for _ in range(10)
    }

    stopped = get_token(api, "buyer", "wrong", REMOTE_ADDR="10.0.3.1")
    real_user = get_token(api, "buyer", PASSWORD, REMOTE_ADDR="10.0.3.2")

    assert guesses == {401}
    assert stopped.status_code == 429
    assert real_user.status_code == 200


@THREE_PER_MINUTE
def test_username_throttle_is_case_insensitive_and_leaves_other_users_alone(api, db):
    UserFactory(username="alice")
    UserFactory(username="bob")
    for name in ["alice", "ALICE", "Alice"]:
        get_token(api, name, "wrong", REMOTE_ADDR="10.0.1.1")

    assert get_token(api, "alice", PASSWORD, REMOTE_ADDR="10.0.1.1").status_code == 429
    assert get_token(api, "bob", PASSWORD, REMOTE_ADDR="10.0.1.1").status_code == 200


@override_settings(THROTTLE_LOGIN_ADDRESS_RATE="3/min")
def test_failed_logins_from_one_address_are_throttled_across_usernames(api, buyer):
    failures = [
        get_token(api, f"guess{n}", "wrong", REMOTE_ADDR="10.9.9.9").status_code for n in range(3)
    ]
    same_address = get_token(api, "buyer", PASSWORD, REMOTE_ADDR="10.9.9.9")
    other_address = get_token(api, "buyer", PASSWORD, REMOTE_ADDR="10.9.9.10")

    assert failures == [401, 401, 401]
    assert same_address.status_code == 429
    assert int(same_address["Retry-After"]) > 0
    assert other_address.status_code == 200


@override_settings(THROTTLE_LOGIN_SUCCESS_RATE="3/min")
def test_successful_logins_are_limited_per_address(api, buyer):
    allowed = [
        get_token(api, "buyer", PASSWORD, REMOTE_ADDR="10.5.0.1").status_code for _ in range(3)
    ]

    refused = get_token(api, "buyer", PASSWORD, REMOTE_ADDR="10.5.0.1")
    elsewhere = get_token(api, "buyer", PASSWORD, REMOTE_ADDR="10.5.0.2")

    assert allowed == [200, 200, 200]
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert elsewhere.status_code == 200


@override_settings(THROTTLE_LOGIN_SUCCESS_RATE="3/min")
def test_failed_logins_do_not_use_up_the_success_allowance(api, buyer):
    failures = [
        get_token(api, "buyer", "wrong", REMOTE_ADDR="10.5.1.1").status_code for _ in range(5)
    ]

    successes = [
        get_token(api, "buyer", PASSWORD, REMOTE_ADDR="10.5.1.2").status_code for _ in range(3)
    ]

    assert failures == [401, 401, 401, 401, 401]
    assert successes == [200, 200, 200]


@THREE_PER_MINUTE
def test_post_logins_share_the_failure_count_with_basic(api, buyer):
    for _ in range(2):
        api.post("/token/", {"username": "buyer", "password": "wrong"}, format="json")
    get_token(api, "buyer", "wrong")

    response = api.post("/token/", {"username": "buyer", "password": PASSWORD}, format="json")

    assert response.status_code == 429
    assert "Retry-After" in response


@THREE_PER_MINUTE
def test_successful_logins_are_never_counted(api, buyer):
    statuses = {get_token(api, "buyer", PASSWORD).status_code for _ in range(10)}
    two_failures = [get_token(api, "buyer", "wrong").status_code for _ in range(2)]

    assert statuses == {200}
    assert two_failures == [401, 401]
    assert get_token(api, "buyer", PASSWORD).status_code == 200


@pytest.mark.parametrize("rate", [None, ""])
def test_empty_login_rate_disables_the_throttle(api, buyer, rate):
    with override_settings(THROTTLE_LOGIN_RATE=rate):
        failures = {get_token(api, "buyer", "wrong").status_code for _ in range(15)}
        success = get_token(api, "buyer", PASSWORD)

    assert failures == {401}
    assert success.status_code == 200


@override_settings(THROTTLE_LOGIN_ADDRESS_RATE="3/min")
def test_a_forged_x_forwarded_for_does_not_escape_the_address_throttle(api, buyer):
    for n in range(3):
        get_token(api, f"guess{n}", "wrong", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")

    response = get_token(api, "buyer", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.200")

    assert response.status_code == 429


@pytest.mark.django_db(transaction=True)
@THREE_PER_MINUTE
def test_parallel_wrong_passwords_never_get_past_the_limit():
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("parallel connections need PostgreSQL (the SQLite test database is in memory)")
    UserFactory(username="target")

    def attempt(n: int) -> int:
        try:
            return get_token(APIClient(), "target", "wrong", REMOTE_ADDR="10.7.0.1").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(attempt, range(30)))

    # Exactly the limit answered: each attempt is one atomic hit on the shared count.
    assert sorted(statuses) == [401] * 3 + [429] * 27
    assert get_token(APIClient(), "target", PASSWORD, REMOTE_ADDR="10.7.0.1").status_code == 429
    assert get_token(APIClient(), "target", PASSWORD, REMOTE_ADDR="10.7.1.1").status_code == 200
