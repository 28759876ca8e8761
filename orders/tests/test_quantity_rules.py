"""Quantity rules on cart changes, submit and one-shot orders (docs/b2b.md)."""

import pytest

from orders.models import Order, OrderLine
from products.models import Product, StockMovement
from products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def eggs(db) -> Product:
    """Sold by the case of 6 trays, 12 at least, 48 at most."""
    return ProductFactory.create(
        name="Eggs",
        quantity_in_stock=500,
        min_order_quantity=12,
        order_increment=6,
        max_order_quantity=48,
    )


def add(client, product_id, body=None, **headers):
    return client.post(f"/products/{product_id}/add_to_order/", body, format="json", **headers)


def remove(client, product_id, body=None):
    return client.post(f"/products/{product_id}/remove_from_order/", body, format="json")


def line_quantity(user, product) -> int | None:
    line = OrderLine.objects.filter(order__user=user, order__status="active", product=product)
    return line.values_list("quantity", flat=True).first()


def test_add_without_a_body_adds_the_minimum_then_one_increment(buyer_api, buyer, eggs):
    first = add(buyer_api, eggs.pk)
    assert first.status_code == 200
    assert first.json()["items"][0]["quantity"] == 12

    second = add(buyer_api, eggs.pk)

    assert second.status_code == 200
    assert second.json()["items"][0]["quantity"] == 18
    assert line_quantity(buyer, eggs) == 18


@pytest.mark.parametrize(
    ("quantity", "nearest"), [(5, [None, 12]), (13, [12, 18]), (54, [48, None])]
)
def test_add_that_breaks_the_rules_is_409_with_the_nearest_valid_quantities(
    buyer_api, buyer, eggs, quantity, nearest
):
    response = add(buyer_api, eggs.pk, {"quantity": quantity})

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "quantity_rule"
    assert {k: body[k] for k in body if k not in {"detail", "code", "request_id"}} == {
        "product": eggs.pk,
        "quantity": quantity,
        "min_order_quantity": 12,
        "order_increment": 6,
        "max_order_quantity": 48,
        "nearest": nearest,
    }
    assert line_quantity(buyer, eggs) is None


def test_the_rule_applies_to_the_line_after_the_change(buyer_api, buyer, eggs):
    add(buyer_api, eggs.pk, {"quantity": 42})

    response = add(buyer_api, eggs.pk, {"quantity": 12})

    assert response.status_code == 409
    assert (response.json()["quantity"], response.json()["nearest"]) == (54, [48, None])
    assert line_quantity(buyer, eggs) == 42


def test_remove_without_a_body_takes_one_increment(buyer_api, buyer, eggs):
    add(buyer_api, eggs.pk, {"quantity": 24})

    response = remove(buyer_api, eggs.pk)

    assert response.status_code == 200
    assert line_quantity(buyer, eggs) == 18


def test_remove_without_a_body_drops_the_line_below_the_minimum(buyer_api, buyer, eggs):
    add(buyer_api, eggs.pk, {"quantity": 12})

    response = remove(buyer_api, eggs.pk)

    assert response.status_code == 200
    assert response.json()["items"] == []
    assert line_quantity(buyer, eggs) is None


def test_remove_leaving_an_invalid_quantity_is_409_and_changes_nothing(buyer_api, buyer, eggs):
    add(buyer_api, eggs.pk, {"quantity": 24})

    too_few = remove(buyer_api, eggs.pk, {"quantity": 18})
    off_step = remove(buyer_api, eggs.pk, {"quantity": 4})
    everything = remove(buyer_api, eggs.pk, {"quantity": 30})

    assert too_few.status_code == off_step.status_code == 409
    assert (too_few.json()["quantity"], too_few.json()["nearest"]) == (6, [None, 12])
    assert (off_step.json()["quantity"], off_step.json()["nearest"]) == (20, [18, 24])
    assert everything.status_code == 200
    assert line_quantity(buyer, eggs) is None


def test_default_rules_keep_single_unit_steps(buyer_api, buyer, product):
    add(buyer_api, product.pk)
    add(buyer_api, product.pk)
    remove(buyer_api, product.pk)

    assert line_quantity(buyer, product) == 1


def test_submit_checks_every_line_against_the_rules_in_force_now(buyer_api, buyer, eggs):
    add(buyer_api, eggs.pk, {"quantity": 18})
    flour = ProductFactory(name="Flour", quantity_in_stock=100)
    add(buyer_api, flour.pk, {"quantity": 5})
    order = Order.objects.get(user=buyer)
    Product.objects.filter(pk=eggs.pk).update(min_order_quantity=24, max_order_quantity=48)
    Product.objects.filter(pk=flour.pk).update(order_increment=2, min_order_quantity=2)

    response = buyer_api.post(f"/orders/{order.pk}/submit/")

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "quantity_rules"
    assert [
        (line["product"], line["quantity"], line["nearest"]) for line in body["lines"]
    ] == sorted([(eggs.pk, 18, [None, 24]), (flour.pk, 5, [4, 6])])
    order.refresh_from_db()
    assert order.status == "active"
    assert not StockMovement.objects.filter(reason="submit").exists()
    assert Product.objects.get(pk=eggs.pk).quantity_in_stock == 500


def test_place_order_checks_the_rules_and_changes_nothing(buyer_api, buyer, eggs, product):
    items = [{"product": eggs.pk, "quantity": 20}, {"product": product.pk, "quantity": 1}]

    refused = buyer_api.post("/orders/", {"items": items}, format="json")
    items[0]["quantity"] = 24
    placed = buyer_api.post("/orders/", {"items": items}, format="json")

    assert refused.status_code == 409
    assert refused.json()["code"] == "quantity_rules"
    assert [line["product"] for line in refused.json()["lines"]] == [eggs.pk]
    assert placed.status_code == 201
    assert Order.objects.filter(user=buyer).count() == 1
    assert Product.objects.get(pk=eggs.pk).quantity_in_stock == 476
