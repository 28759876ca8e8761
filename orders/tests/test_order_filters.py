"""GET /orders/ filters: status for everyone; all=true and user=<id> for staff only."""

from decimal import Decimal

import pytest

from orders.models import Order
from orders.services import order_add_item, order_cancel, order_place
from products.models import Product
from products.services import product_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def oats() -> Product:
    return product_create(actor=None, name="Oats", price=Decimal("1.00"), quantity_in_stock=100)


@pytest.fixture
def orders(buyer, other_buyer, oats) -> dict[str, Order]:
    """For the buyer: a cart, a submitted and a cancelled order; for the other: one submitted."""

    def placed(user) -> Order:
        return order_place(user=user, items=[{"product": oats.pk, "quantity": 1}])

    cancelled = placed(buyer)
    order_cancel(actor=buyer, order_id=cancelled.pk)
    return {
        "cancelled": cancelled,
        "submitted": placed(buyer),
        "active": order_add_item(user=buyer, product_id=oats.pk, quantity=1),
        "others": placed(other_buyer),
    }


def listed(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_a_buyer_lists_their_own_orders_newest_first(buyer_api, orders):
    mine = [orders["active"].pk, orders["submitted"].pk, orders["cancelled"].pk]

    assert listed(buyer_api.get("/orders/")) == mine


@pytest.mark.parametrize("status", ["active", "submitted", "cancelled"])
def test_status_filter_narrows_the_list(buyer_api, orders, status):
    response = buyer_api.get("/orders/", {"status": status})

    assert listed(response) == [orders[status].pk]
    assert response.json()["results"][0]["status"] == status


def test_status_filter_with_no_match_is_empty(buyer_api, orders):
    assert listed(buyer_api.get("/orders/", {"status": "fulfilled"})) == []


def test_an_unknown_status_is_400_naming_the_field(buyer_api, orders):
    response = buyer_api.get("/orders/", {"status": "shipped"})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["status"]


@pytest.mark.parametrize(("field", "value"), [("all", "maybe"), ("user", "abc"), ("user", "0")])
def test_invalid_staff_parameters_are_400_naming_the_field(staff_api, orders, field, value):
    response = staff_api.get("/orders/", {field: value})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


def test_staff_see_only_their_own_orders_by_default(staff_api, orders):
    assert listed(staff_api.get("/orders/")) == []


def test_staff_list_everyones_orders_with_all_true(staff_api, orders):
    response = staff_api.get("/orders/", {"all": "true"})

    assert sorted(listed(response)) == sorted(o.pk for o in orders.values())
    assert response.json()["count"] == Order.objects.count() == 4


def test_staff_list_one_users_orders(staff_api, other_buyer, orders):
    assert listed(staff_api.get("/orders/", {"user": other_buyer.pk})) == [orders["others"].pk]


def test_staff_combine_user_and_status(staff_api, buyer, orders):
    response = staff_api.get("/orders/", {"user": buyer.pk, "status": "cancelled"})

    assert listed(response) == [orders["cancelled"].pk]


def test_staff_filter_everyones_orders_by_status(staff_api, orders):
    response = staff_api.get("/orders/", {"all": "true", "status": "submitted"})

    assert sorted(listed(response)) == sorted([orders["submitted"].pk, orders["others"].pk])


def test_staff_read_any_single_order(staff_api, orders):
    response = staff_api.get(f"/orders/{orders['others'].pk}/")

    assert response.status_code == 200
    assert response.json()["id"] == orders["others"].pk


def test_a_buyer_asking_for_all_still_sees_only_their_own(buyer_api, orders):
    mine = {orders["active"].pk, orders["submitted"].pk, orders["cancelled"].pk}

    assert set(listed(buyer_api.get("/orders/", {"all": "true"}))) == mine


def test_a_buyer_asking_for_another_user_sees_nothing_of_theirs(buyer_api, other_buyer, orders):
    response = buyer_api.get("/orders/", {"user": other_buyer.pk})

    assert listed(response) == []


def test_a_buyer_cannot_read_another_buyers_order(buyer_api, orders):
    response = buyer_api.get(f"/orders/{orders['others'].pk}/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_list_stays_within_a_fixed_number_of_queries(
    staff_api, other_buyer, oats, django_assert_max_num_queries
):
    for _ in range(15):
        order_place(user=other_buyer, items=[{"product": oats.pk, "quantity": 1}])

    with django_assert_max_num_queries(8):
        response = staff_api.get("/orders/", {"all": "true"})

    assert response.json()["count"] == 15
