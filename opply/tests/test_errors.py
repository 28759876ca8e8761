"""Every error is the API's JSON body, whoever raised it: DRF, Django, or an unexpected bug.

This module is also the URLconf of the tests marked `urls`: the project's routes plus two
plain Django views that fail, so that errors outside DRF are covered too.
"""

import base64
import re

import pytest
from django.conf import settings
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import include, path
from rest_framework.test import APIClient

from orders.models import Order
from products.models import Product

pytestmark = pytest.mark.django_db

GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")


def _crash(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("unexpected failure with a secret in its message")


def _database_gone(request: HttpRequest) -> HttpResponse:
    raise OperationalError("server closed the connection unexpectedly")


urlpatterns = [
    path("test-only/crash/", _crash),
    path("test-only/database-gone/", _database_gone),
    path("", include("opply.urls")),
]
handler400 = "opply.exceptions.bad_request"
handler404 = "opply.exceptions.page_not_found"
handler500 = "opply.exceptions.server_error"

with_failing_views = pytest.mark.urls(__name__)


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert isinstance(body["code"], str)
    assert body["request_id"] == response["X-Request-ID"]
    if code is not None:
        assert body["code"] == code
    return body


@pytest.mark.parametrize(
    "path", ["/no-such-thing/", "/products/x/", "/orders/1/nope/", "/token/x/"]
)
def test_unknown_url_is_404_json(buyer_api, path):
    assert_error(buyer_api.get(path), 404, "not_found")


def test_unknown_url_is_404_json_for_anonymous_callers_too(api):
    assert_error(api.get("/no-such-thing/"), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("delete", "/orders/", "GET"),
        ("put", "/orders/{order}/submit/", "POST"),
        ("get", "/products/{product}/add_to_order/", "POST"),
        ("post", "/orders/current/", "GET"),
        ("put", "/orders/{order}/", "GET, PATCH"),
    ],
)
def test_wrong_method_is_405_json_with_allow(buyer_api, buyer, product, method, path, allowed):
    order = Order.objects.create(user=buyer)

    response = getattr(buyer_api, method)(path.format(order=order.pk, product=product.pk))

    assert_error(response, 405, "method_not_allowed")
    assert allowed in response["Allow"]


def test_non_json_body_is_415(staff_api):
    response = staff_api.post(
        "/products/", "name=x&price=1&quantity_in_stock=1", content_type="text/plain"
    )

    assert_error(response, 415, "unsupported_media_type")
    assert not Product.objects.exists()


def test_non_json_body_on_a_cart_action_is_415(buyer_api, buyer, product):
    response = buyer_api.post(
        f"/products/{product.pk}/add_to_order/", "quantity=1", content_type="text/plain"
    )

    assert_error(response, 415, "unsupported_media_type")
    assert not Order.objects.exists()


@pytest.mark.parametrize("raw", ['{"name": "x",', "{'name': 'x'}", "NaN", '{"price": NaN}', "\xff"])
def test_malformed_json_is_400(staff_api, raw):
    response = staff_api.post("/products/", raw, content_type="application/json")

    assert_error(response, 400, "parse_error")
    assert not Product.objects.exists()


@pytest.mark.parametrize(
    "path", ["/products/", "/products/{product}/add_to_order/", "/token/", "/orders/"]
)
def test_json_array_body_is_400(staff_api, product, path):
    response = staff_api.post(path.format(product=product.pk), [1, 2], format="json")

    body = assert_error(response, 400, "invalid")
    assert body["errors"]
    assert Product.objects.count() == 1
    assert not Order.objects.exists()


def test_validation_errors_list_messages_per_field(staff_api):
    response = staff_api.post("/products/", {"price": "-1"}, format="json")

    body = assert_error(response, 400, "invalid")
    assert set(body["errors"]) == {"name", "price", "quantity_in_stock"}
    assert all(
        isinstance(messages, list) and all(isinstance(m, str) for m in messages)
        for messages in body["errors"].values()
    )


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_out_of_range_product_id_is_404(staff_api, method):
    response = getattr(staff_api, method)("/products/99999999999999999999/", {"name": "n"})

    assert_error(response, 404, "not_found")


def test_out_of_range_order_id_is_404(buyer_api):
    assert_error(buyer_api.get("/orders/99999999999999999999/"), 404, "not_found")


def test_out_of_range_filter_value_is_400(staff_api):
    response = staff_api.get("/orders/?user=99999999999999999999999")

    assert_error(response, 400, "invalid")


def test_anonymous_call_is_401_with_www_authenticate(api):
    response = api.get("/orders/")

    body = assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"
    assert "'Authorization: Token <key>'" in body["detail"]
    assert "POST /token/" in body["detail"]


def test_unknown_token_is_401_saying_how_to_authenticate(api):
    api.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)

    response = api.get("/orders/")

    body = assert_error(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"] == "Token"
    assert body["detail"].startswith("Invalid token.")
    assert "'Authorization: Token <key>'" in body["detail"]


@pytest.mark.parametrize("header", ["0123456789abcdef", "Bearer 0123456789abcdef"])
def test_a_key_without_the_token_scheme_is_401_naming_the_scheme(api, header):
    """What Swagger UI sends when the key is pasted alone, or after `Bearer`."""
    api.credentials(HTTP_AUTHORIZATION=header)

    response = api.get("/products/")

    body = assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"
    assert body["detail"].startswith("The Authorization header does not start with 'Token '.")
    assert "'Authorization: Token <key>'" in body["detail"]


def test_wrong_basic_credentials_on_get_token_are_401_without_the_token_hint(api, buyer):
    api.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(b"buyer:wrong").decode())

    response = api.get("/token/")

    body = assert_error(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"] == 'Basic realm="api"'
    assert body["detail"] == "Invalid username or password."


def test_forbidden_is_403_json(buyer_api):
    assert_error(buyer_api.post("/products/", {}, format="json"), 403, "permission_denied")


def test_throttled_caller_gets_429_with_retry_after(buyer_api):
    with override_settings(THROTTLE_USER_RATE="2/min"):
        statuses = [buyer_api.get("/products/").status_code for _ in range(2)]
        response = buyer_api.get("/products/")

    assert statuses == [200, 200]
    assert_error(response, 429, "throttled")
    assert 0 < int(response["Retry-After"]) <= 60


def test_unexpected_exception_in_a_view_is_500_json(buyer_api, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("unexpected failure with a secret in its message")

    monkeypatch.setattr("products.views.ProductViewSet.list", broken)
    buyer_api.raise_request_exception = False

    response = buyer_api.get("/products/")

    assert_error(response, 500, "server_error")
    assert b"secret" not in response.content
    assert b"Traceback" not in response.content


@with_failing_views
def test_unexpected_exception_outside_drf_is_500_json():
    response = Client(raise_request_exception=False).get("/test-only/crash/")

    assert_error(response, 500, "server_error")
    assert b"secret" not in response.content


def test_database_error_from_a_service_is_503_with_retry_after(buyer_api, buyer, monkeypatch):
    order = Order.objects.create(user=buyer)

    def unavailable(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("orders.services.order_submit", unavailable)

    response = buyer_api.post(f"/orders/{order.pk}/submit/")

    assert_error(response, 503, "database_unavailable")
    assert response["Retry-After"] == str(settings.DATABASE_RETRY_AFTER_SECONDS)
    assert b"closed the connection" not in response.content


def test_deadlock_is_503_database_busy_not_an_outage(buyer_api, buyer, monkeypatch):
    from psycopg import errors as pg_errors

    order = Order.objects.create(user=buyer)

    def deadlocked(**kwargs):
        try:
            raise pg_errors.DeadlockDetected("deadlock detected")
        except pg_errors.DeadlockDetected as cause:
            raise OperationalError("deadlock detected") from cause

    monkeypatch.setattr("orders.services.order_submit", deadlocked)

    response = buyer_api.post(f"/orders/{order.pk}/submit/")

    assert_error(response, 503, "database_busy")
    assert response["Retry-After"] == str(settings.DATABASE_RETRY_AFTER_SECONDS)
    assert Order.objects.get(pk=order.pk).status == "active"


@with_failing_views
def test_database_error_outside_drf_is_503_with_retry_after():
    response = Client(raise_request_exception=False).get("/test-only/database-gone/")

    assert_error(response, 503, "database_unavailable")
    assert response["Retry-After"] == str(settings.DATABASE_RETRY_AFTER_SECONDS)


def test_csrf_failure_on_a_django_form_is_json(staff):
    client = Client(enforce_csrf_checks=True)

    response = client.post("/admin/login/", {"username": "staff", "password": "x"})

    assert_error(response, 403, "permission_denied")


def test_session_write_without_csrf_token_is_403_json(buyer, product):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(buyer)

    response = client.post(f"/products/{product.pk}/add_to_order/", {}, format="json")

    assert_error(response, 403, "permission_denied")
    assert not Order.objects.exists()


def test_django_405_outside_drf_is_json_with_allow(staff):
    client = Client()
    client.force_login(staff)

    response = client.get("/admin/logout/")

    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response["Allow"]


def test_disallowed_host_is_400_json(buyer_api):
    response = buyer_api.get("/products/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "bad_request"


@pytest.mark.parametrize("request_id", ["abc-123", "A.b_C-9", "x" * 128])
def test_sane_request_id_is_echoed_in_header_and_error_body(buyer_api, request_id):
    ok = buyer_api.get("/products/", HTTP_X_REQUEST_ID=request_id)
    error = buyer_api.get("/no-such-thing/", HTTP_X_REQUEST_ID=request_id)

    assert ok["X-Request-ID"] == request_id
    assert error["X-Request-ID"] == request_id
    assert error.json()["request_id"] == request_id


@pytest.mark.parametrize(
    "request_id", ["x" * 200, "has spaces", "", "semi;colon", "new\tline", "ünïcode", "a/b"]
)
def test_insane_request_id_is_replaced(buyer_api, request_id):
    response = buyer_api.get("/no-such-thing/", HTTP_X_REQUEST_ID=request_id)

    assert response["X-Request-ID"] != request_id
    assert GENERATED_ID.match(response["X-Request-ID"])
    assert response.json()["request_id"] == response["X-Request-ID"]


def test_every_response_gets_a_fresh_request_id(buyer_api):
    first = buyer_api.get("/products/")["X-Request-ID"]
    second = buyer_api.get("/products/")["X-Request-ID"]

    assert GENERATED_ID.match(first)
    assert GENERATED_ID.match(second)
    assert first != second


def test_deeply_nested_json_is_a_400_not_a_recursion_crash(api):
    body = "[" * 100_000 + "]" * 100_000

    response = api.post("/token/", body, content_type="application/json")

    assert_error(response, 400, "parse_error")


def test_a_nul_in_basic_credentials_is_401(api):
    import base64

    header = "Basic " + base64.b64encode(b"bu\x00yer:secret").decode()

    response = api.get("/token/", HTTP_AUTHORIZATION=header)

    assert_error(response, 401, "authentication_failed")


def test_a_value_the_database_cannot_store_is_400(buyer_api, buyer, monkeypatch):
    from django.db import DataError

    order = Order.objects.create(user=buyer)

    def too_big(**kwargs):
        raise DataError("numeric field overflow")

    monkeypatch.setattr("orders.services.order_submit", too_big)

    response = buyer_api.post(f"/orders/{order.pk}/submit/")

    body = assert_error(response, 400, "invalid")
    assert "overflow" not in body["detail"]
