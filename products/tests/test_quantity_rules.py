"""Quantity rules on product writes (docs/b2b.md): coherent or a 400 naming the field."""

import pytest
from django.db import IntegrityError

from products.models import Product
from products.rules import nearest_valid, quantity_violation
from products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

VALID = {"name": "Eggs", "price": "7.20", "quantity_in_stock": 240}


def test_staff_creates_a_case_pack_product(staff_api):
    body = {**VALID, "min_order_quantity": 12, "order_increment": 6, "max_order_quantity": 120}

    response = staff_api.post("/products/", body, format="json")

    assert response.status_code == 201
    created = response.json()
    assert (created["min_order_quantity"], created["order_increment"]) == (12, 6)
    assert (created["max_order_quantity"], created["version"]) == (120, 1)
    product = Product.objects.get(pk=created["id"])
    assert (product.min_order_quantity, product.order_increment, product.max_order_quantity) == (
        12,
        6,
        120,
    )


def test_rules_default_to_one_by_one_without_a_maximum(staff_api):
    response = staff_api.post("/products/", VALID, format="json")

    body = response.json()
    assert (body["min_order_quantity"], body["order_increment"], body["max_order_quantity"]) == (
        1,
        1,
        None,
    )


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ({"min_order_quantity": 10, "order_increment": 6}, "min_order_quantity"),
        (
            {"min_order_quantity": 6, "order_increment": 6, "max_order_quantity": 40},
            "max_order_quantity",
        ),
        (
            {"min_order_quantity": 12, "order_increment": 6, "max_order_quantity": 6},
            "max_order_quantity",
        ),
        ({"order_increment": 0}, "order_increment"),
        ({"min_order_quantity": 0}, "min_order_quantity"),
        ({"max_order_quantity": 0}, "max_order_quantity"),
    ],
)
def test_incoherent_rules_are_a_400_naming_the_field(staff_api, rules, field):
    response = staff_api.post("/products/", {**VALID, **rules}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"]
    assert not Product.objects.exists()


def test_a_patch_is_checked_against_the_rules_it_leaves_alone(staff_api):
    product = ProductFactory(min_order_quantity=12, order_increment=6)

    refused = staff_api.patch(f"/products/{product.pk}/", {"order_increment": 5}, format="json")
    accepted = staff_api.patch(
        f"/products/{product.pk}/", {"order_increment": 4, "max_order_quantity": 48}, format="json"
    )

    assert refused.status_code == 400
    assert "min_order_quantity" in refused.json()["errors"]
    assert accepted.status_code == 200
    product.refresh_from_db()
    assert (product.order_increment, product.max_order_quantity, product.version) == (4, 48, 2)


def test_the_database_refuses_incoherent_rules_written_around_the_api():
    product = ProductFactory(min_order_quantity=12, order_increment=6)

    with pytest.raises(IntegrityError):
        Product.objects.filter(pk=product.pk).update(order_increment=5)


@pytest.mark.parametrize(
    ("quantity", "nearest"),
    [(1, (None, 12)), (13, (12, 18)), (17, (12, 18)), (47, (42, 48)), (50, (48, None))],
)
def test_nearest_valid_quantities_lie_either_side(quantity, nearest):
    product = Product(pk=1, min_order_quantity=12, order_increment=6, max_order_quantity=48)

    assert nearest_valid(product, quantity) == nearest
    assert quantity_violation(product, quantity)["nearest"] == list(nearest)
    assert quantity_violation(product, 18) is None
