"""GET /orders/, /orders/{id}/ and /orders/current/, scoped to the caller."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Order
from orders.services import order_cancel, order_fulfil, order_get_or_create_active, order_place
from orders.tests.factories import OrderFactory, OrderLineFactory

pytestmark = pytest.mark.django_db


def submitted_order(user, *, days_ago: int = 0, status: str = "submitted") -> Order:
    order = OrderFactory.create(user=user, status=status, submitted_at=timezone.now())
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return order


def ids(response) -> list[int]:
    return [order["id"] for order in response.json()["results"]]


def test_list_is_the_callers_orders_newest_first(buyer_api, buyer, other_buyer):
    old = submitted_order(buyer, days_ago=3)
    new = submitted_order(buyer, days_ago=1)
    middle = submitted_order(buyer, days_ago=2)
    submitted_order(other_buyer)

    response = buyer_api.get("/orders/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 3
    assert ids(response) == [new.pk, middle.pk, old.pk]


def test_orders_created_in_the_same_instant_are_ordered_by_id(buyer_api, buyer):
    orders = [submitted_order(buyer) for _ in range(3)]
    Order.objects.update(created_at=timezone.now())

    assert ids(buyer_api.get("/orders/")) == [o.pk for o in reversed(orders)]


def test_list_includes_lines(buyer_api, buyer):
    order = submitted_order(buyer)
    line = OrderLineFactory(order=order, quantity=2, unit_price="3.00")

    item = buyer_api.get("/orders/").json()["results"][0]["items"][0]

    assert item == {
        "product": line.product_id,
        "name": line.product.name,
        "quantity": 2,
        "unit_price": "3.00",
        "line_total": "6.00",
    }


@pytest.mark.parametrize("wanted", ["active", "submitted", "cancelled", "fulfilled"])
def test_status_filter(buyer_api, buyer, wanted):
    by_status = {
        status: submitted_order(buyer, status=status)
        for status in ("submitted", "cancelled", "fulfilled")
    }
    by_status["active"] = OrderFactory(user=buyer)

    response = buyer_api.get(f"/orders/?status={wanted}")

    assert response.status_code == 200
    assert ids(response) == [by_status[wanted].pk]


def test_unknown_status_filter_is_400(buyer_api, buyer):
    response = buyer_api.get("/orders/?status=lost")

    assert response.status_code == 400
    assert "status" in response.json()["errors"]


def test_staff_list_is_their_own_unless_they_ask_for_all(staff_api, staff, buyer, other_buyer):
    mine = submitted_order(staff, days_ago=3)
    buyers = submitted_order(buyer, days_ago=2)
    others = submitted_order(other_buyer, days_ago=1)

    assert ids(staff_api.get("/orders/")) == [mine.pk]
    assert ids(staff_api.get("/orders/?all=true")) == [others.pk, buyers.pk, mine.pk]
    assert ids(staff_api.get(f"/orders/?user={buyer.pk}")) == [buyers.pk]


def test_buyer_cannot_widen_the_list(buyer_api, buyer, other_buyer):
    mine = submitted_order(buyer)
    submitted_order(other_buyer)

    assert ids(buyer_api.get("/orders/?all=true")) == [mine.pk]
    assert ids(buyer_api.get(f"/orders/?user={other_buyer.pk}")) == []


def test_owner_reads_their_order(buyer_api, buyer):
    order = submitted_order(buyer)

    response = buyer_api.get(f"/orders/{order.pk}/")

    assert response.status_code == 200
    assert response.json()["id"] == order.pk
    assert response.json()["status"] == "submitted"


def test_staff_reads_any_order(staff_api, buyer):
    order = submitted_order(buyer)

    assert staff_api.get(f"/orders/{order.pk}/").json()["id"] == order.pk


def test_another_buyers_order_is_404(other_api, buyer):
    order = submitted_order(buyer)

    response = other_api.get(f"/orders/{order.pk}/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_detail_ignores_list_filters(buyer_api, buyer):
    order = submitted_order(buyer)

    assert buyer_api.get(f"/orders/{order.pk}/?status=active").status_code == 200


def test_current_creates_the_active_order_once(buyer_api, buyer):
    first = buyer_api.get("/orders/current/")
    second = buyer_api.get("/orders/current/")

    assert first.status_code == second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["status"] == "active"
    assert first.json()["items"] == []
    assert first.json()["total_amount"] == "0.00"
    assert Order.objects.filter(user=buyer).count() == 1


def test_current_returns_the_existing_cart(buyer_api, buyer, product):
    cart = buyer_api.post(f"/products/{product.pk}/add_to_order/").json()

    current = buyer_api.get("/orders/current/").json()

    assert current == cart


def test_current_is_per_user(buyer_api, other_api, buyer, other_buyer):
    mine = buyer_api.get("/orders/current/").json()["id"]
    theirs = other_api.get("/orders/current/").json()["id"]

    assert mine != theirs
    assert Order.objects.get(pk=mine).user == buyer
    assert Order.objects.get(pk=theirs).user == other_buyer


def test_current_after_submit_is_a_new_order(buyer_api, buyer):
    submitted = submitted_order(buyer)

    current = buyer_api.get("/orders/current/").json()

    assert current["id"] != submitted.pk
    assert current["status"] == "active"


def test_get_or_create_active_returns_the_existing_order(buyer):
    existing = order_get_or_create_active(user=buyer)

    again = order_get_or_create_active(user=buyer)

    assert again.pk == existing.pk
    assert Order.objects.filter(user=buyer, status="active").count() == 1


def test_get_or_create_active_recovers_from_losing_the_race(buyer, monkeypatch) -> None:
    """A concurrent caller created the order between our read and our insert."""
    winner = OrderFactory.create(user=buyer)
    real_filter = Order.objects.filter
    calls: list[dict] = []

    def stale_first_read(*args, **kwargs):
        queryset = real_filter(*args, **kwargs)
        if not calls:
            calls.append(kwargs)
            return queryset.none()
        return queryset

    monkeypatch.setattr(Order.objects, "filter", stale_first_read)

    order = order_get_or_create_active(user=buyer)

    assert calls
    assert order.pk == winner.pk
    assert Order.objects.filter(user=buyer, status="active").count() == 1


def test_anonymous_reads_are_401(api, buyer):
    order = submitted_order(buyer)
    for path in ("/orders/", f"/orders/{order.pk}/", "/orders/current/"):
        response = api.get(path)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"
    assert Order.objects.count() == 1


def test_each_listed_order_is_written_as_its_detail_is(buyer_api, buyer, staff, product):
    def placed():
        return order_place(user=buyer, items=[{"product": product.pk, "quantity": 2}])

    order_cancel(actor=buyer, order_id=placed().pk)
    order_fulfil(actor=staff, order_id=placed().pk)
    placed()
    order_get_or_create_active(user=buyer)

    listed = buyer_api.get("/orders/").json()["results"]

    assert {order["status"] for order in listed} == {
        "active",
        "submitted",
        "cancelled",
        "fulfilled",
    }
    for order in listed:
        assert order == buyer_api.get(f"/orders/{order['id']}/").json()
