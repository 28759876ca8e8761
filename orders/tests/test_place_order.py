"""POST /orders/: create and submit an order in one atomic request."""

from decimal import Decimal

import pytest

from orders.models import Order, OrderLine
from orders.serializers import MAX_ITEMS
from orders.services import order_add_item
from products.models import Product, StockMovement
from products.services import product_create

pytestmark = pytest.mark.django_db


def make(name: str, *, price: str = "10.00", stock: int = 10, active: bool = True) -> Product:
    return product_create(
        actor=None, name=name, price=Decimal(price), quantity_in_stock=stock, is_active=active
    )


def stock(product: Product) -> int:
    product.refresh_from_db()
    return product.quantity_in_stock


def place(client, items):
    return client.post("/orders/", {"items": items}, format="json")


def assert_nothing_placed() -> None:
    assert not Order.objects.exclude(status=Order.Status.ACTIVE).exists()
    assert not OrderLine.objects.filter(order__status=Order.Status.SUBMITTED).exists()
    assert not StockMovement.objects.exclude(reason=StockMovement.Reason.INITIAL).exists()


def test_placing_an_order_submits_it_and_takes_the_stock(buyer_api, buyer):
    oats = make("Oats", price="11.11", stock=10)
    honey = make("Honey", price="22.22", stock=20)

    response = place(
        buyer_api, [{"product": honey.pk, "quantity": 2}, {"product": oats.pk, "quantity": 3}]
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "submitted"
    assert body["total_amount"] == "77.77"
    assert body["submitted_at"] is not None
    assert sorted((i["product"], i["quantity"], i["unit_price"]) for i in body["items"]) == [
        (oats.pk, 3, "11.11"),
        (honey.pk, 2, "22.22"),
    ]
    order = Order.objects.get(pk=body["id"])
    assert order.user == buyer
    assert order.status == Order.Status.SUBMITTED
    assert order.submitted_at == order.created_at
    assert order.total_amount == Decimal("77.77")
    assert (stock(oats), stock(honey)) == (7, 18)
    movements = StockMovement.objects.filter(order_id=order.pk)
    assert sorted((m.product_id, m.delta, m.reason, m.actor_id) for m in movements) == [
        (oats.pk, -3, "submit", buyer.pk),
        (honey.pk, -2, "submit", buyer.pk),
    ]


def test_placing_an_order_leaves_the_active_cart_untouched(buyer_api, buyer):
    oats = make("Oats", stock=10)
    cart = order_add_item(user=buyer, product_id=oats.pk, quantity=4)

    response = place(buyer_api, [{"product": oats.pk, "quantity": 1}])

    assert response.status_code == 201
    assert response.json()["id"] != cart.pk
    cart.refresh_from_db()
    assert cart.status == Order.Status.ACTIVE
    assert list(cart.lines.values_list("product_id", "quantity")) == [(oats.pk, 4)]
    current = buyer_api.get("/orders/current/").json()
    assert current["id"] == cart.pk
    assert [(i["product"], i["quantity"]) for i in current["items"]] == [(oats.pk, 4)]
    assert stock(oats) == 9


def test_an_order_of_the_maximum_number_of_lines_is_placed(buyer_api):
    products = [
        Product(name=f"P{n}", price=Decimal("1.00"), quantity_in_stock=1) for n in range(MAX_ITEMS)
    ]
    Product.objects.bulk_create(products)
    items = [{"product": p.pk, "quantity": 1} for p in Product.objects.all()]

    response = place(buyer_api, items)

    assert response.status_code == 201, response.content
    assert len(response.json()["items"]) == MAX_ITEMS == 500
    assert response.json()["total_amount"] == "500.00"
    assert not Product.objects.filter(quantity_in_stock__gt=0).exists()


def test_more_than_the_maximum_number_of_lines_is_400(buyer_api):
    items = [{"product": n, "quantity": 1} for n in range(1, MAX_ITEMS + 2)]

    response = place(buyer_api, items)

    assert response.status_code == 400
    assert response.json()["errors"] == {"items": ["Give between 1 and 500 lines; got 501."]}
    assert_nothing_placed()


def test_an_order_of_no_lines_is_400(buyer_api):
    response = place(buyer_api, [])

    assert response.status_code == 400
    assert response.json()["errors"] == {"items": ["Give between 1 and 500 lines; got 0."]}
    assert_nothing_placed()


@pytest.mark.parametrize("body", [{}, {"items": "oats"}, {"items": None}])
def test_an_order_without_a_list_of_lines_is_400(buyer_api, body):
    response = buyer_api.post("/orders/", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["errors"]) == ["items"]
    assert_nothing_placed()


@pytest.mark.parametrize(
    "item",
    [
        {"product": 1, "quantity": 0},
        {"product": 1, "quantity": 10_001},
        {"product": 1},
        {"product": "x", "quantity": 1},
        {"quantity": 1},
    ],
)
def test_a_malformed_line_is_400(buyer_api, item):
    make("Oats")

    response = place(buyer_api, [item])

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["items"]
    assert_nothing_placed()


def test_a_product_listed_twice_is_400_naming_it(buyer_api):
    oats = make("Oats")
    honey = make("Honey")

    response = place(
        buyer_api,
        [
            {"product": oats.pk, "quantity": 1},
            {"product": honey.pk, "quantity": 1},
            {"product": oats.pk, "quantity": 2},
        ],
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    [message] = body["errors"]["items"]
    assert f"repeated: {oats.pk}." in message
    assert stock(oats) == 10
    assert_nothing_placed()


def test_an_unknown_product_is_400_naming_it(buyer_api):
    oats = make("Oats")

    response = place(
        buyer_api, [{"product": oats.pk, "quantity": 1}, {"product": 999_999, "quantity": 1}]
    )

    assert response.status_code == 400
    assert response.json()["errors"]["items"] == ["No such product: 999999."]
    assert stock(oats) == 10
    assert_nothing_placed()


def test_an_inactive_product_is_400_for_a_buyer(buyer_api):
    retired = make("Retired", active=False)

    response = place(buyer_api, [{"product": retired.pk, "quantity": 1}])

    assert response.status_code == 400
    assert response.json()["errors"]["items"] == [f"No such product: {retired.pk}."]
    assert stock(retired) == 10
    assert_nothing_placed()


def test_insufficient_stock_is_409_listing_every_short_line_and_changes_nothing(buyer_api):
    oats = make("Oats", stock=2)
    honey = make("Honey", stock=5)
    rice = make("Rice", stock=1)

    response = place(
        buyer_api,
        [
            {"product": rice.pk, "quantity": 4},
            {"product": honey.pk, "quantity": 5},
            {"product": oats.pk, "quantity": 3},
        ],
    )

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "insufficient_stock"
    assert body["lines"] == [
        {"product": oats.pk, "requested": 3, "available": 2},
        {"product": rice.pk, "requested": 4, "available": 1},
    ]
    assert (stock(oats), stock(honey), stock(rice)) == (2, 5, 1)
    assert not Order.objects.exists()
    assert_nothing_placed()


def test_the_409_body_is_the_same_as_submit_gives(buyer_api, buyer):
    oats = make("Oats", stock=3)
    cart = order_add_item(user=buyer, product_id=oats.pk, quantity=3)
    Product.objects.filter(pk=oats.pk).update(quantity_in_stock=1)

    placed = place(buyer_api, [{"product": oats.pk, "quantity": 3}])
    submitted = buyer_api.post(f"/orders/{cart.pk}/submit/")

    assert placed.status_code == submitted.status_code == 409
    without_request_id = [
        {k: v for k, v in r.json().items() if k != "request_id"} for r in (placed, submitted)
    ]
    assert without_request_id[0] == without_request_id[1]
    assert set(without_request_id[0]) == {"detail", "code", "lines"}


def test_anonymous_callers_cannot_place_orders(api):
    oats = make("Oats")

    response = place(api, [{"product": oats.pk, "quantity": 1}])

    assert response.status_code == 401
    assert stock(oats) == 10
    assert_nothing_placed()


def test_placing_with_an_idempotency_key_twice_places_one_order(buyer_api):
    oats = make("Oats", stock=10)
    items = [{"product": oats.pk, "quantity": 2}]

    first = buyer_api.post("/orders/", {"items": items}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = buyer_api.post("/orders/", {"items": items}, format="json", HTTP_IDEMPOTENCY_KEY="k1")

    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert Order.objects.filter(status=Order.Status.SUBMITTED).count() == 1
    assert stock(oats) == 8
