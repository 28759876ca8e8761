"""/products/{id}/add_to_order/ and /remove_from_order/: the caller's active order."""

import pytest

from orders.models import Order, OrderLine
from products.models import Product, StockMovement
from products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

ORDER_KEYS = {
    "id",
    "status",
    "buyer",
    "po_number",
    "note",
    "version",
    "items",
    "total_amount",
    "created_at",
    "submitted_at",
    "cancelled_at",
    "fulfilled_at",
}


def add(client, product_id, body=None):
    return client.post(f"/products/{product_id}/add_to_order/", body, format="json")


def remove(client, product_id, body=None):
    return client.post(f"/products/{product_id}/remove_from_order/", body, format="json")


def lines_of(user) -> list[tuple[int, int]]:
    return list(
        OrderLine.objects.filter(order__user=user, order__status="active")
        .order_by("product_id")
        .values_list("product_id", "quantity")
    )


def test_add_creates_the_active_order_with_one_unit_by_default(buyer_api, buyer, product):
    response = add(buyer_api, product.pk)

    assert response.status_code == 200
    body = response.json()
    order = Order.objects.get(user=buyer)
    assert set(body) == ORDER_KEYS
    assert body["id"] == order.pk
    assert body["status"] == "active"
    assert body["items"] == [
        {
            "product": product.pk,
            "name": "Product 1",
            "quantity": 1,
            "unit_price": "11.11",
            "line_total": "11.11",
        }
    ]
    assert body["total_amount"] == "11.11"
    assert body["submitted_at"] is None
    assert body["cancelled_at"] is None
    assert body["fulfilled_at"] is None
    assert order.status == "active"
    assert lines_of(buyer) == [(product.pk, 1)]


def test_add_does_not_touch_stock(buyer_api, product):
    add(buyer_api, product.pk, {"quantity": 5})

    product.refresh_from_db()
    assert product.quantity_in_stock == 10
    assert StockMovement.objects.filter(product=product).count() == 1


def test_adding_again_increases_the_same_line(buyer_api, buyer, product):
    add(buyer_api, product.pk)
    response = add(buyer_api, product.pk, {"quantity": 3})

    assert response.status_code == 200
    assert [(i["product"], i["quantity"]) for i in response.json()["items"]] == [(product.pk, 4)]
    assert response.json()["total_amount"] == "44.44"
    assert lines_of(buyer) == [(product.pk, 4)]
    assert Order.objects.filter(user=buyer).count() == 1


def test_adding_two_products_uses_one_order(buyer_api, buyer, product):
    second = ProductFactory(price="2.50")

    first_response = add(buyer_api, product.pk, {"quantity": 2})
    second_response = add(buyer_api, second.pk, {"quantity": 4})

    assert first_response.json()["id"] == second_response.json()["id"]
    assert second_response.json()["total_amount"] == "32.22"
    assert [i["line_total"] for i in second_response.json()["items"]] == ["22.22", "10.00"]
    assert lines_of(buyer) == [(product.pk, 2), (second.pk, 4)]


def test_add_uses_the_existing_active_order(buyer_api, buyer, product):
    existing = Order.objects.create(user=buyer)

    response = add(buyer_api, product.pk)

    assert response.json()["id"] == existing.pk
    assert Order.objects.filter(user=buyer).count() == 1


def test_add_after_submit_starts_a_new_order(buyer_api, buyer, product):
    first = add(buyer_api, product.pk).json()["id"]
    assert buyer_api.post(f"/orders/{first}/submit/").status_code == 200

    response = add(buyer_api, product.pk)

    assert response.status_code == 200
    assert response.json()["id"] != first
    assert Order.objects.filter(user=buyer, status="active").count() == 1
    assert Order.objects.filter(user=buyer).count() == 2


def test_quantity_up_to_10000_is_accepted(buyer_api, buyer):
    plenty = ProductFactory(quantity_in_stock=20_000)

    response = add(buyer_api, plenty.pk, {"quantity": 10_000})

    assert response.status_code == 200
    assert lines_of(buyer) == [(plenty.pk, 10_000)]


@pytest.mark.parametrize("quantity", [0, -1, 10_001, 10**30, "abc", 1.5, None, [1], {"n": 1}])
def test_invalid_quantity_is_400_and_changes_nothing(buyer_api, buyer, quantity):
    plenty = ProductFactory(quantity_in_stock=20_000)

    response = add(buyer_api, plenty.pk, {"quantity": quantity})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert "quantity" in body["errors"]
    assert not OrderLine.objects.exists()


def test_exceeding_stock_is_409_with_the_short_line(buyer_api, buyer, product):
    add(buyer_api, product.pk, {"quantity": 8})

    response = add(buyer_api, product.pk, {"quantity": 3})

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "insufficient_stock"
    assert body["lines"] == [{"product": product.pk, "requested": 11, "available": 10}]
    assert lines_of(buyer) == [(product.pk, 8)]


def test_exactly_the_stock_is_accepted(buyer_api, buyer, product):
    response = add(buyer_api, product.pk, {"quantity": 10})

    assert response.status_code == 200
    assert lines_of(buyer) == [(product.pk, 10)]


def test_out_of_stock_product_is_409_on_first_add(buyer_api, buyer):
    empty = ProductFactory(quantity_in_stock=0)

    response = add(buyer_api, empty.pk)

    assert response.status_code == 409
    assert response.json()["lines"] == [{"product": empty.pk, "requested": 1, "available": 0}]
    assert lines_of(buyer) == []


def test_inactive_product_is_404_for_buyers(buyer_api, buyer):
    hidden = ProductFactory(is_active=False)

    response = add(buyer_api, hidden.pk)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert not OrderLine.objects.exists()


def test_inactive_product_cannot_be_ordered_by_staff_either(staff_api):
    hidden = ProductFactory(is_active=False)

    response = add(staff_api, hidden.pk)

    assert response.status_code == 409
    assert response.json()["code"] == "product_inactive"
    assert not OrderLine.objects.exists()


@pytest.mark.parametrize("path_id", ["424242", "99999999999999999999"])
def test_unknown_product_is_404(buyer_api, path_id):
    response = add(buyer_api, path_id)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert not OrderLine.objects.exists()


def test_anonymous_add_is_401(api, product):
    assert add(api, product.pk).status_code == 401
    assert not Order.objects.exists()


def test_add_is_scoped_to_the_caller(buyer_api, other_api, buyer, other_buyer, product):
    add(buyer_api, product.pk, {"quantity": 2})
    add(other_api, product.pk, {"quantity": 5})

    assert lines_of(buyer) == [(product.pk, 2)]
    assert lines_of(other_buyer) == [(product.pk, 5)]


# --- remove ----------------------------------------------------------------------------


def test_remove_decrements_by_one_by_default(buyer_api, buyer, product):
    add(buyer_api, product.pk, {"quantity": 3})

    response = remove(buyer_api, product.pk)

    assert response.status_code == 200
    assert set(response.json()) == ORDER_KEYS
    assert [(i["product"], i["quantity"]) for i in response.json()["items"]] == [(product.pk, 2)]
    assert response.json()["total_amount"] == "22.22"
    assert lines_of(buyer) == [(product.pk, 2)]


def test_remove_with_quantity_decrements_by_that_much(buyer_api, buyer, product):
    add(buyer_api, product.pk, {"quantity": 5})

    response = remove(buyer_api, product.pk, {"quantity": 3})

    assert response.status_code == 200
    assert lines_of(buyer) == [(product.pk, 2)]


def test_line_disappears_at_zero(buyer_api, buyer, product):
    order_id = add(buyer_api, product.pk, {"quantity": 2}).json()["id"]

    response = remove(buyer_api, product.pk, {"quantity": 2})

    assert response.status_code == 200
    assert response.json()["id"] == order_id
    assert response.json()["items"] == []
    assert response.json()["total_amount"] == "0.00"
    assert lines_of(buyer) == []
    assert Order.objects.get(pk=order_id).status == "active"


def test_removing_more_than_the_line_removes_it(buyer_api, buyer, product):
    other = ProductFactory()
    add(buyer_api, product.pk, {"quantity": 2})
    add(buyer_api, other.pk)

    response = remove(buyer_api, product.pk, {"quantity": 50})

    assert response.status_code == 200
    assert [i["product"] for i in response.json()["items"]] == [other.pk]
    assert lines_of(buyer) == [(other.pk, 1)]


def test_remove_of_a_product_not_in_the_order_is_404(buyer_api, buyer, product):
    other = ProductFactory()
    add(buyer_api, other.pk)

    response = remove(buyer_api, product.pk)

    assert response.status_code == 404
    assert response.json()["code"] == "not_in_order"
    assert lines_of(buyer) == [(other.pk, 1)]


def test_remove_without_an_active_order_is_404_and_creates_none(buyer_api, buyer, product):
    response = remove(buyer_api, product.pk)

    assert response.status_code == 404
    assert response.json()["code"] == "not_in_order"
    assert not Order.objects.filter(user=buyer).exists()


def test_remove_does_not_reach_into_a_submitted_order(buyer_api, buyer, product):
    order_id = add(buyer_api, product.pk, {"quantity": 2}).json()["id"]
    buyer_api.post(f"/orders/{order_id}/submit/")

    response = remove(buyer_api, product.pk)

    assert response.status_code == 404
    assert OrderLine.objects.get(order_id=order_id).quantity == 2


def test_remove_of_another_buyers_line_is_404(buyer_api, other_api, buyer, product):
    add(buyer_api, product.pk, {"quantity": 2})

    response = remove(other_api, product.pk)

    assert response.status_code == 404
    assert lines_of(buyer) == [(product.pk, 2)]


def test_a_deactivated_product_can_still_be_removed(buyer_api, buyer, product):
    add(buyer_api, product.pk, {"quantity": 2})
    Product.objects.filter(pk=product.pk).update(is_active=False)

    response = remove(buyer_api, product.pk, {"quantity": 2})

    assert response.status_code == 200
    assert lines_of(buyer) == []


@pytest.mark.parametrize("quantity", [0, -3, 10_001, "abc", 1.5, None])
def test_invalid_remove_quantity_is_400_and_changes_nothing(buyer_api, buyer, product, quantity):
    add(buyer_api, product.pk, {"quantity": 2})

    response = remove(buyer_api, product.pk, {"quantity": quantity})

    assert response.status_code == 400
    assert "quantity" in response.json()["errors"]
    assert lines_of(buyer) == [(product.pk, 2)]


def test_cart_shows_the_current_price_until_submit(buyer_api, product):
    add(buyer_api, product.pk, {"quantity": 2})
    Product.objects.filter(pk=product.pk).update(price="5.00")

    cart = buyer_api.get("/orders/current/").json()

    assert [i["unit_price"] for i in cart["items"]] == ["5.00"]
    assert cart["total_amount"] == "10.00"
