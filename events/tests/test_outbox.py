"""Every business change writes its events in its own transaction, data as the API shows it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction

from events.models import Event
from orders import services as orders
from orders.tests.factories import OrderFactory, OrderLineFactory
from products.models import Product
from products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def types_after(mark: int) -> list[str]:
    return list(Event.objects.filter(pk__gt=mark).order_by("pk").values_list("type", flat=True))


def last_id() -> int:
    return Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def test_submit_writes_order_submitted_with_the_order_as_the_api_shows_it(buyer, buyer_api):
    product = ProductFactory(quantity_in_stock=5, price="2.50")
    order = OrderFactory(user=buyer)
    OrderLineFactory(order=order, product=product, quantity=2)
    mark = last_id()

    response = buyer_api.post(f"/orders/{order.pk}/submit/")

    assert response.status_code == 200
    assert types_after(mark) == ["product.stock_changed", "order.submitted"]
    submitted = Event.objects.get(pk__gt=mark, type="order.submitted")
    assert submitted.data == buyer_api.get(f"/orders/{order.pk}/").json()
    assert submitted.buyer_id == buyer.pk
    stock = Event.objects.get(pk__gt=mark, type="product.stock_changed")
    assert stock.data == {
        "product": product.pk,
        "delta": -2,
        "reason": "submit",
        "order": order.pk,
        "quantity_after": 3,
    }


def test_taking_the_last_units_fires_out_of_stock_once_and_cancel_back_in_stock(
    buyer, buyer_api, staff_api
):
    product = ProductFactory(quantity_in_stock=2)
    mark = last_id()

    placed = buyer_api.post("/orders/", {"items": [{"product": product.pk, "quantity": 2}]})

    assert placed.status_code == 201
    assert types_after(mark) == [
        "product.stock_changed",
        "product.out_of_stock",
        "order.submitted",
    ]
    out = Event.objects.get(pk__gt=mark, type="product.out_of_stock")
    assert out.data == staff_api.get(f"/products/{product.pk}/").json()
    assert out.data["quantity_in_stock"] == 0
    mark = last_id()

    cancelled = buyer_api.post(f"/orders/{placed.json()['id']}/cancel/")

    assert cancelled.status_code == 200
    assert types_after(mark) == [
        "product.stock_changed",
        "product.back_in_stock",
        "order.cancelled",
    ]
    assert Event.objects.get(pk__gt=mark, type="order.cancelled").data == cancelled.json()


def test_refused_submit_writes_no_event(buyer, buyer_api):
    product = ProductFactory(quantity_in_stock=1)
    order = OrderFactory(user=buyer)
    OrderLineFactory(order=order, product=product, quantity=2)
    mark = last_id()

    response = buyer_api.post(f"/orders/{order.pk}/submit/")

    assert response.status_code == 409
    assert types_after(mark) == []


def test_fulfil_writes_order_fulfilled(buyer, staff, staff_api):
    product = ProductFactory(quantity_in_stock=3)
    order = orders.order_place(user=buyer, items=[{"product": product.pk, "quantity": 1}])
    mark = last_id()

    response = staff_api.post(f"/orders/{order.pk}/fulfil/")

    assert response.status_code == 200
    assert types_after(mark) == ["order.fulfilled"]
    assert Event.objects.get(pk__gt=mark).data == response.json()


def test_catalogue_writes_created_updated_and_deleted(staff_api):
    mark = last_id()

    created = staff_api.post(
        "/products/", {"name": "Oats", "price": "1.00", "quantity_in_stock": 0}
    )
    pk = created.json()["id"]
    updated = staff_api.patch(f"/products/{pk}/", {"quantity_in_stock": 4, "price": "1.50"})
    deleted = staff_api.delete(f"/products/{pk}/")

    assert (created.status_code, updated.status_code, deleted.status_code) == (201, 200, 204)
    events = list(Event.objects.filter(pk__gt=mark).order_by("pk"))
    assert [e.type for e in events] == [
        "product.created",
        "product.stock_changed",
        "product.back_in_stock",
        "product.updated",
        "product.deleted",
    ]
    assert events[0].data == created.json()
    assert events[1].data == {
        "product": pk,
        "delta": 4,
        "reason": "adjustment",
        "order": None,
        "quantity_after": 4,
    }
    assert events[3].data == updated.json()
    assert events[4].data == updated.json()


def test_one_stock_changed_per_product_per_transaction():
    product = ProductFactory(quantity_in_stock=5)
    mark = last_id()
    from products.services import stock_adjust

    with transaction.atomic():
        from events.outbox import outbox_atomic

        with outbox_atomic():
            stock_adjust(product_id=product.pk, delta=-5, actor=None)
            stock_adjust(product_id=product.pk, delta=2, actor=None)

    # 5 -> 0 -> 2 in one transaction: to and from 0 cancel out, one summed change.
    [event] = Event.objects.filter(pk__gt=mark)
    assert (event.type, event.data["delta"], event.data["quantity_after"]) == (
        "product.stock_changed",
        -3,
        2,
    )
    assert Product.objects.get(pk=product.pk).quantity_in_stock == 2


def test_a_rolled_back_change_leaves_no_event():
    mark = last_id()

    def create_then_fail() -> None:
        with transaction.atomic():
            ProductFactory(quantity_in_stock=1)
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        create_then_fail()

    assert types_after(mark) == []


def test_an_import_writes_created_updated_and_stock_events():
    from products.importing.parser import ImportRow
    from products.importing.writer import products_import

    existing = ProductFactory(sku="OLD-1", quantity_in_stock=5)
    mark = last_id()

    products_import(
        rows=[
            ImportRow(1, "OLD-1", "Old", Decimal("2.00"), 0, None),
            ImportRow(2, "NEW-1", "New", Decimal("3.00"), 4, None),
        ],
        actor=None,
    )

    events = [
        (e.type, e.data.get("product", e.data.get("id")))
        for e in Event.objects.filter(pk__gt=mark).order_by("pk")
    ]
    new = Product.objects.get(sku="NEW-1").pk
    assert sorted(events) == sorted(
        [
            ("product.updated", existing.pk),
            ("product.stock_changed", existing.pk),
            ("product.out_of_stock", existing.pk),
            ("product.created", new),
            ("product.stock_changed", new),
            ("product.back_in_stock", new),
        ]
    )
