"""Order lifecycle: active -> submitted -> fulfilled | cancelled; cancel restores stock."""

from decimal import Decimal

import pytest

from orders.models import Order
from orders.services import order_add_item, order_cancel, order_fulfil, order_place
from products.models import Product, StockMovement
from products.services import product_create

pytestmark = pytest.mark.django_db


def make(name: str, *, stock: int = 10) -> Product:
    return product_create(actor=None, name=name, price=Decimal("2.50"), quantity_in_stock=stock)


def stock(product: Product) -> int:
    product.refresh_from_db()
    return product.quantity_in_stock


@pytest.fixture
def oats() -> Product:
    return make("Oats", stock=10)


@pytest.fixture
def honey() -> Product:
    return make("Honey", stock=5)


@pytest.fixture
def submitted(buyer, oats, honey) -> Order:
    return order_place(
        user=buyer,
        items=[{"product": oats.pk, "quantity": 3}, {"product": honey.pk, "quantity": 2}],
    )


def in_status(user, status: str, oats: Product) -> Order:
    """An order of `user` in `status`, reached through the services."""
    if status == Order.Status.ACTIVE:
        return order_add_item(user=user, product_id=oats.pk, quantity=1)
    order = order_place(user=user, items=[{"product": oats.pk, "quantity": 1}])
    if status == Order.Status.CANCELLED:
        order_cancel(actor=user, order_id=order.pk)
    elif status == Order.Status.FULFILLED:
        order_fulfil(actor=user, order_id=order.pk)
    order.refresh_from_db()
    assert order.status == status
    return order


def test_owner_cancels_a_submitted_order_and_its_stock_comes_back(
    buyer_api, buyer, submitted, oats, honey
):
    assert (stock(oats), stock(honey)) == (7, 3)

    response = buyer_api.post(f"/orders/{submitted.pk}/cancel/")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "cancelled"
    assert body["cancelled_at"] is not None
    assert body["total_amount"] == "12.50"
    submitted.refresh_from_db()
    assert submitted.status == Order.Status.CANCELLED
    assert submitted.cancelled_at is not None
    assert (stock(oats), stock(honey)) == (10, 5)
    cancels = StockMovement.objects.filter(order_id=submitted.pk, reason="cancel")
    assert sorted((m.product_id, m.delta, m.quantity_after, m.actor_id) for m in cancels) == [
        (oats.pk, 3, 10, buyer.pk),
        (honey.pk, 2, 5, buyer.pk),
    ]


def test_staff_cancel_any_buyers_order_and_are_recorded_as_the_actor(
    staff_api, staff, submitted, oats, honey
):
    response = staff_api.post(f"/orders/{submitted.pk}/cancel/")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert (stock(oats), stock(honey)) == (10, 5)
    assert set(
        StockMovement.objects.filter(order_id=submitted.pk, reason="cancel").values_list(
            "actor_id", flat=True
        )
    ) == {staff.pk}


def test_the_restock_is_rolled_back_with_the_cancel(buyer_api, submitted, oats, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Order, "save", fail)

    with pytest.raises(RuntimeError):
        buyer_api.post(f"/orders/{submitted.pk}/cancel/")

    assert stock(oats) == 7
    assert not StockMovement.objects.filter(reason="cancel").exists()
    assert Order.objects.get(pk=submitted.pk).status == Order.Status.SUBMITTED


def test_another_buyer_cannot_cancel_and_gets_404(other_api, submitted, oats):
    response = other_api.post(f"/orders/{submitted.pk}/cancel/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert Order.objects.get(pk=submitted.pk).status == Order.Status.SUBMITTED
    assert stock(oats) == 7


def test_cancelling_an_unknown_order_is_404(staff_api, db):
    response = staff_api.post("/orders/999999/cancel/")

    assert response.status_code == 404


@pytest.mark.parametrize("status", ["active", "cancelled", "fulfilled"])
def test_cancel_from_any_status_but_submitted_is_409_naming_both(
    staff_api, buyer_api, buyer, oats, status
):
    order = in_status(buyer, status, oats)
    before = stock(oats)
    movements = StockMovement.objects.count()

    response = buyer_api.post(f"/orders/{order.pk}/cancel/")

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "illegal_transition"
    assert (body["current"], body["target"]) == (status, "cancelled")
    assert f"'{status}'" in body["detail"]
    assert "'cancelled'" in body["detail"]
    assert Order.objects.get(pk=order.pk).status == status
    assert stock(oats) == before
    assert StockMovement.objects.count() == movements


def test_staff_fulfil_a_submitted_order(staff_api, submitted, oats):
    response = staff_api.post(f"/orders/{submitted.pk}/fulfil/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "fulfilled"
    assert body["fulfilled_at"] is not None
    submitted.refresh_from_db()
    assert submitted.status == Order.Status.FULFILLED
    assert submitted.fulfilled_at is not None
    assert stock(oats) == 7
    assert not StockMovement.objects.filter(reason="cancel").exists()


def test_a_buyer_cannot_fulfil_even_their_own_order(buyer_api, submitted):
    response = buyer_api.post(f"/orders/{submitted.pk}/fulfil/")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert Order.objects.get(pk=submitted.pk).status == Order.Status.SUBMITTED


def test_fulfilling_an_unknown_order_is_404(staff_api, db):
    assert staff_api.post("/orders/999999/fulfil/").status_code == 404


@pytest.mark.parametrize("status", ["active", "cancelled", "fulfilled"])
def test_fulfil_from_any_status_but_submitted_is_409_naming_both(staff_api, buyer, oats, status):
    order = in_status(buyer, status, oats)

    response = staff_api.post(f"/orders/{order.pk}/fulfil/")

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "illegal_transition"
    assert (body["current"], body["target"]) == (status, "fulfilled")
    assert Order.objects.get(pk=order.pk).status == status


@pytest.mark.parametrize("status", ["submitted", "cancelled", "fulfilled"])
def test_submitting_an_order_that_is_no_longer_active_is_409(buyer_api, buyer, oats, status):
    order = in_status(buyer, status, oats)

    response = buyer_api.post(f"/orders/{order.pk}/submit/")

    assert response.status_code == 409
    assert response.json()["code"] == "order_not_active"
    assert status in response.json()["detail"]
    assert Order.objects.get(pk=order.pk).status == status


def test_submit_of_an_active_order_moves_it_to_submitted(buyer_api, buyer, oats):
    cart = in_status(buyer, "active", oats)

    response = buyer_api.post(f"/orders/{cart.pk}/submit/")

    assert response.status_code == 200
    assert response.json()["status"] == "submitted"
    assert stock(oats) == 9


def test_anonymous_callers_cannot_cancel_or_fulfil(api, submitted):
    assert api.post(f"/orders/{submitted.pk}/cancel/").status_code == 401
    assert api.post(f"/orders/{submitted.pk}/fulfil/").status_code == 401
    assert Order.objects.get(pk=submitted.pk).status == Order.Status.SUBMITTED


def test_cancel_then_place_again_uses_the_restored_stock(buyer, oats):
    first = order_place(user=buyer, items=[{"product": oats.pk, "quantity": 10}])
    order_cancel(actor=buyer, order_id=first.pk)

    again = order_place(user=buyer, items=[{"product": oats.pk, "quantity": 10}])

    assert again.status == Order.Status.SUBMITTED
    assert stock(oats) == 0
