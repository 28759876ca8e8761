"""Who may do what: every endpoint and action of docs/api.md (Tokens, Products, Orders) for
anonymous callers, the owning buyer, another buyer and staff, each with the exact status
expected."""

import base64
from dataclasses import dataclass

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from orders.models import Order, OrderLine
from orders.tests.factories import PASSWORD, OrderFactory, OrderLineFactory
from products.models import Product, StockMovement
from products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

ACTORS = ("anonymous", "buyer", "other", "staff")
PRODUCT = {"name": "New", "price": "1.00", "quantity_in_stock": 1}


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    expected: tuple[int, int, int, int]  # anonymous, buyer, other buyer, staff
    body: dict | None = None
    basic_auth: bool = False


CASES = {
    "token GET (Basic)": Case("get", "/token/", (401, 200, 200, 200), basic_auth=True),
    "token POST": Case("post", "/token/", (400, 200, 200, 200), basic_auth=True),
    "token DELETE": Case("delete", "/token/", (401, 204, 204, 204)),
    "product list": Case("get", "/products/", (401, 200, 200, 200)),
    "product detail": Case("get", "/products/{product}/", (401, 200, 200, 200)),
    "inactive product detail": Case("get", "/products/{inactive}/", (401, 404, 404, 200)),
    "product create": Case("post", "/products/", (401, 403, 403, 201), PRODUCT),
    "product PUT": Case("put", "/products/{product}/", (401, 403, 403, 200), PRODUCT),
    "product PATCH": Case("patch", "/products/{product}/", (401, 403, 403, 200), {"name": "N"}),
    "product delete": Case("delete", "/products/{spare}/", (401, 403, 403, 204)),
    "referenced product delete": Case("delete", "/products/{product}/", (401, 403, 403, 409)),
    "stock movements": Case("get", "/products/{product}/stock_movements/", (401, 403, 403, 200)),
    "add_to_order": Case("post", "/products/{spare}/add_to_order/", (401, 200, 200, 200)),
    "add_to_order inactive": Case(
        "post", "/products/{inactive}/add_to_order/", (401, 404, 404, 409)
    ),
    "remove_from_order": Case(
        "post", "/products/{product}/remove_from_order/", (401, 200, 404, 404)
    ),
    "order list": Case("get", "/orders/", (401, 200, 200, 200)),
    "order detail": Case("get", "/orders/{submitted}/", (401, 200, 404, 200)),
    "current order": Case("get", "/orders/current/", (401, 200, 200, 200)),
    "submit": Case("post", "/orders/{cart}/submit/", (401, 200, 404, 404)),
    "place order": Case(
        "post", "/orders/", (401, 201, 201, 201), {"items": [{"product": 0, "quantity": 1}]}
    ),
    "cancel": Case("post", "/orders/{submitted}/cancel/", (401, 200, 404, 200)),
    "fulfil": Case("post", "/orders/{submitted}/fulfil/", (401, 403, 403, 200)),
}


@pytest.fixture
def world(buyer, other_buyer, staff):
    """The buyer has a cart and a submitted order, both holding `product`."""
    product = ProductFactory(quantity_in_stock=50)
    spare = ProductFactory(quantity_in_stock=50)
    inactive = ProductFactory(is_active=False)
    cart = OrderFactory(user=buyer)
    OrderLineFactory(order=cart, product=product, quantity=2)
    submitted = OrderFactory(user=buyer, status="submitted", submitted_at=timezone.now())
    OrderLineFactory(order=submitted, product=product, quantity=1, unit_price="10.00")
    return {
        "users": {"buyer": buyer, "other": other_buyer, "staff": staff},
        "ids": {
            "product": product.pk,
            "spare": spare.pk,
            "inactive": inactive.pk,
            "cart": cart.pk,
            "submitted": submitted.pk,
        },
    }


def client_for(actor: str, case: Case, world, request) -> APIClient:
    if actor == "anonymous":
        return APIClient()
    if case.basic_auth:
        client = APIClient()
        if case.method == "get":
            credentials = f"{world['users'][actor].username}:{PASSWORD}".encode()
            client.credentials(HTTP_AUTHORIZATION="Basic " + base64.b64encode(credentials).decode())
        return client
    return request.getfixturevalue(
        {"buyer": "buyer_api", "other": "other_api"}.get(actor, "staff_api")
    )


def body_for(actor: str, case: Case, world) -> dict | None:
    if case.basic_auth and case.method == "post" and actor != "anonymous":
        return {"username": world["users"][actor].username, "password": PASSWORD}
    if case.body and "items" in case.body:
        return {"items": [{"product": world["ids"]["spare"], "quantity": 1}]}
    return case.body


def snapshot():
    return (
        list(Product.objects.values_list("id", "name", "price", "quantity_in_stock", "is_active")),
        list(Order.objects.values_list("id", "user_id", "status").order_by("id")),
        list(OrderLine.objects.values_list("id", "order_id", "quantity").order_by("id")),
        StockMovement.objects.count(),
        sorted(Token.objects.values_list("key", flat=True)),
    )


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("name", CASES)
def test_permission_matrix(name, actor, world, request):
    case = CASES[name]
    client = client_for(actor, case, world, request)
    before = snapshot()

    response = getattr(client, case.method)(
        case.path.format(**world["ids"]), body_for(actor, case, world), format="json"
    )

    expected = case.expected[ACTORS.index(actor)]
    assert response.status_code == expected, response.content
    if expected == 204:
        assert response.content == b""
    else:
        assert response["Content-Type"] == "application/json"
    if expected >= 400:
        assert {"detail", "code"} <= set(response.json())
        assert snapshot() == before
    if expected == 401:
        assert "WWW-Authenticate" in response
