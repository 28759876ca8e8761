"""POST /orders/{id}/submit/: all or nothing."""

from decimal import Decimal

import pytest

from orders.models import Order, OrderLine
from orders.tests.factories import OrderFactory, OrderLineFactory
from products.models import Product, StockMovement
from products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def submit(client, order_id):
    return client.post(f"/orders/{order_id}/submit/")


def stock(*products: Product) -> list[int]:
    return [Product.objects.get(pk=p.pk).quantity_in_stock for p in products]


@pytest.fixture
def cart(buyer):
    """The buyer's active order: 3 x 11.11 and 2 x 2.50, from stocks of 10 and 5."""
    order = OrderFactory(user=buyer)
    first = ProductFactory(price="11.11", quantity_in_stock=10)
    second = ProductFactory(price="2.50", quantity_in_stock=5)
    OrderLineFactory(order=order, product=first, quantity=3)
    OrderLineFactory(order=order, product=second, quantity=2)
    order.products = [first, second]
    return order


def test_submit_freezes_prices_and_total_and_takes_stock(buyer_api, buyer, cart):
    first, second = cart.products

    response = submit(buyer_api, cart.pk)

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == cart.pk
    assert body["status"] == "submitted"
    assert body["total_amount"] == "38.33"
    assert body["submitted_at"] is not None
    assert [
        (i["product"], i["quantity"], i["unit_price"], i["line_total"]) for i in body["items"]
    ] == [
        (first.pk, 3, "11.11", "33.33"),
        (second.pk, 2, "2.50", "5.00"),
    ]
    cart.refresh_from_db()
    assert cart.status == "submitted"
    assert cart.total_amount == Decimal("38.33")
    assert cart.submitted_at is not None
    assert list(cart.lines.order_by("product_id").values_list("unit_price", flat=True)) == [
        Decimal("11.11"),
        Decimal("2.50"),
    ]
    assert stock(first, second) == [7, 3]
    assert list(
        StockMovement.objects.filter(reason="submit")
        .order_by("product_id")
        .values_list("product_id", "delta", "quantity_after", "order_id", "actor_id")
    ) == [(first.pk, -3, 7, cart.pk, buyer.pk), (second.pk, -2, 3, cart.pk, buyer.pk)]


def test_price_change_after_submit_leaves_the_order_alone(buyer_api, buyer, cart):
    first, _ = cart.products
    submit(buyer_api, cart.pk)
    new_cart = buyer_api.post(f"/products/{first.pk}/add_to_order/").json()["id"]

    Product.objects.filter(pk=first.pk).update(price="99.00")

    submitted = buyer_api.get(f"/orders/{cart.pk}/").json()
    active = buyer_api.get(f"/orders/{new_cart}/").json()
    assert submitted["total_amount"] == "38.33"
    assert submitted["items"][0]["unit_price"] == "11.11"
    assert active["items"][0]["unit_price"] == "99.00"
    assert active["total_amount"] == "99.00"


def test_any_short_line_is_409_listing_every_short_line_and_nothing_changes(buyer_api, buyer):
    order = OrderFactory(user=buyer)
    fine = ProductFactory(quantity_in_stock=50)
    short = ProductFactory(quantity_in_stock=4)
    gone = ProductFactory(quantity_in_stock=0)
    for product, quantity in ((fine, 5), (short, 6), (gone, 1)):
        OrderLineFactory(order=order, product=product, quantity=quantity)
    movements_before = StockMovement.objects.count()

    response = submit(buyer_api, order.pk)

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "insufficient_stock"
    assert sorted(body["lines"], key=lambda line: line["product"]) == [
        {"product": short.pk, "requested": 6, "available": 4},
        {"product": gone.pk, "requested": 1, "available": 0},
    ]
    assert stock(fine, short, gone) == [50, 4, 0]
    order.refresh_from_db()
    assert (order.status, order.submitted_at, order.total_amount) == ("active", None, 0)
    assert list(order.lines.values_list("quantity", "unit_price").order_by("id")) == [
        (5, None),
        (6, None),
        (1, None),
    ]
    assert StockMovement.objects.count() == movements_before


def test_a_line_whose_product_was_deactivated_is_short(buyer_api, buyer, cart):
    first, second = cart.products
    Product.objects.filter(pk=second.pk).update(is_active=False)

    response = submit(buyer_api, cart.pk)

    assert response.status_code == 409
    assert response.json()["lines"] == [{"product": second.pk, "requested": 2, "available": 0}]
    assert stock(first, second) == [10, 5]


def test_stock_taken_since_the_line_was_added_is_detected(buyer_api, buyer, cart):
    first, second = cart.products
    Product.objects.filter(pk=first.pk).update(quantity_in_stock=2)

    response = submit(buyer_api, cart.pk)

    assert response.status_code == 409
    assert response.json()["lines"] == [{"product": first.pk, "requested": 3, "available": 2}]
    assert stock(first, second) == [2, 5]


def test_submitting_twice_is_409_and_takes_stock_once(buyer_api, cart):
    first, second = cart.products
    submit(buyer_api, cart.pk)

    response = submit(buyer_api, cart.pk)

    assert response.status_code == 409
    assert response.json()["code"] == "order_not_active"
    assert stock(first, second) == [7, 3]
    assert StockMovement.objects.filter(reason="submit").count() == 2


def test_empty_order_is_409(buyer_api, buyer):
    order = OrderFactory(user=buyer)

    response = submit(buyer_api, order.pk)

    assert response.status_code == 409
    assert response.json()["code"] == "order_empty"
    order.refresh_from_db()
    assert order.status == "active"
    assert order.submitted_at is None


def test_another_users_order_is_404_and_unchanged(other_api, cart):
    first, second = cart.products

    response = submit(other_api, cart.pk)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    cart.refresh_from_db()
    assert cart.status == "active"
    assert stock(first, second) == [10, 5]
    assert not StockMovement.objects.filter(reason="submit").exists()


def test_staff_cannot_submit_a_buyers_order(staff_api, cart):
    assert submit(staff_api, cart.pk).status_code == 404
    cart.refresh_from_db()
    assert cart.status == "active"


def test_anonymous_submit_is_401(api, cart):
    assert submit(api, cart.pk).status_code == 401
    cart.refresh_from_db()
    assert cart.status == "active"


@pytest.mark.parametrize("path_id", ["abc", "99999999999999999999", "-1", "1.5", "0"])
def test_malformed_or_unknown_order_id_is_404_json(buyer_api, cart, path_id):
    response = submit(buyer_api, path_id)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"
    cart.refresh_from_db()
    assert cart.status == "active"


def test_submit_then_new_cart_then_submit_again(buyer_api, buyer, cart):
    first, _ = cart.products
    submit(buyer_api, cart.pk)
    new_id = buyer_api.post(f"/products/{first.pk}/add_to_order/", {"quantity": 7}).json()["id"]

    response = submit(buyer_api, new_id)

    assert response.status_code == 200
    assert stock(first) == [0]
    assert Order.objects.filter(user=buyer, status="submitted").count() == 2
    assert OrderLine.objects.get(order_id=new_id).unit_price == Decimal("11.11")
