"""products.services: every stock change is checked, all or nothing, and in the ledger."""

from decimal import Decimal

import pytest
from django.db.models import ProtectedError, Sum

from opply.exceptions import InsufficientStock, NotFound
from orders.tests.factories import OrderLineFactory, UserFactory
from products.models import Product, StockMovement
from products.services import (
    product_create,
    product_delete,
    product_update,
    stock_adjust,
    stock_return,
    stock_take,
)
from products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def ledger(product: Product) -> list[tuple[str, int, int]]:
    return list(
        StockMovement.objects.filter(product=product)
        .order_by("id")
        .values_list("reason", "delta", "quantity_after")
    )


def stock(*products: Product) -> list[int]:
    return [Product.objects.get(pk=p.pk).quantity_in_stock for p in products]


def assert_ledger_matches_stock() -> None:
    for product in Product.objects.all():
        total = StockMovement.objects.filter(product=product).aggregate(s=Sum("delta"))["s"]
        assert (total or 0) == product.quantity_in_stock, product


def test_create_records_initial_stock_with_its_actor():
    staff = UserFactory(is_staff=True)

    product = product_create(actor=staff, name="A", price=Decimal("1.00"), quantity_in_stock=7)

    assert ledger(product) == [("initial", 7, 7)]
    assert StockMovement.objects.get(product=product).actor == staff


def test_create_without_stock_writes_no_movement():
    product = product_create(actor=None, name="A", price=Decimal("1.00"))

    assert product.quantity_in_stock == 0
    assert ledger(product) == []


def test_update_records_the_stock_difference_as_an_adjustment():
    product = ProductFactory(quantity_in_stock=10)

    updated = product_update(product_id=product.pk, actor=None, quantity_in_stock=3, name="B")

    assert (updated.name, updated.quantity_in_stock) == ("B", 3)
    assert stock(product) == [3]
    assert ledger(product) == [("initial", 10, 10), ("adjustment", -7, 3)]


def test_update_of_other_fields_writes_no_movement():
    product = ProductFactory(quantity_in_stock=10)

    product_update(product_id=product.pk, actor=None, price=Decimal("2.00"), quantity_in_stock=10)

    assert Product.objects.get(pk=product.pk).price == Decimal("2.00")
    assert ledger(product) == [("initial", 10, 10)]


def test_update_of_unknown_product_is_not_found():
    with pytest.raises(NotFound):
        product_update(product_id=987654, actor=None, name="x")


def test_adjust_adds_and_removes_stock_with_a_note():
    product = ProductFactory(quantity_in_stock=5)

    added = stock_adjust(product_id=product.pk, delta=4, actor=None, note="delivery")
    removed = stock_adjust(product_id=product.pk, delta=-9, actor=None, note="damaged")

    assert (added.delta, added.quantity_after, added.note) == (4, 9, "delivery")
    assert (removed.delta, removed.quantity_after, removed.note) == (-9, 0, "damaged")
    assert stock(product) == [0]


def test_adjust_below_zero_is_refused_and_changes_nothing():
    product = ProductFactory(quantity_in_stock=5)

    with pytest.raises(InsufficientStock) as refused:
        stock_adjust(product_id=product.pk, delta=-6, actor=None)

    assert refused.value.lines == [{"product": product.pk, "requested": 6, "available": 5}]
    assert stock(product) == [5]
    assert ledger(product) == [("initial", 5, 5)]


def test_adjust_of_unknown_product_is_not_found():
    with pytest.raises(NotFound):
        stock_adjust(product_id=987654, delta=1, actor=None)


def test_take_decrements_every_product_with_movements_for_the_order():
    buyer = UserFactory()
    first, second = ProductFactory(quantity_in_stock=5), ProductFactory(quantity_in_stock=8)

    locked = stock_take(quantities={second.pk: 8, first.pk: 2}, actor=buyer, order_id=42)

    assert set(locked) == {first.pk, second.pk}
    assert stock(first, second) == [3, 0]
    assert list(
        StockMovement.objects.filter(reason="submit")
        .order_by("product_id")
        .values_list("product_id", "delta", "quantity_after", "order_id", "actor_id")
    ) == [(first.pk, -2, 3, 42, buyer.pk), (second.pk, -8, 0, 42, buyer.pk)]


def test_take_lists_every_short_line_and_changes_nothing():
    enough = ProductFactory(quantity_in_stock=5)
    short = ProductFactory(quantity_in_stock=1)
    inactive = ProductFactory(quantity_in_stock=9, is_active=False)
    missing_id = 987654

    with pytest.raises(InsufficientStock) as refused:
        stock_take(
            quantities={enough.pk: 5, short.pk: 2, inactive.pk: 1, missing_id: 3},
            actor=None,
            order_id=1,
        )

    assert refused.value.lines == [
        {"product": short.pk, "requested": 2, "available": 1},
        {"product": inactive.pk, "requested": 1, "available": 0},
        {"product": missing_id, "requested": 3, "available": 0},
    ]
    assert stock(enough, short, inactive) == [5, 1, 9]
    assert not StockMovement.objects.filter(reason="submit").exists()


def test_return_gives_stock_back_with_cancel_movements():
    product = ProductFactory(quantity_in_stock=5)
    stock_take(quantities={product.pk: 4}, actor=None, order_id=7)

    stock_return(quantities={product.pk: 4, 987654: 2}, actor=None, order_id=7)

    assert stock(product) == [5]
    assert ledger(product) == [("initial", 5, 5), ("submit", -4, 1), ("cancel", 4, 5)]
    assert StockMovement.objects.get(reason="cancel").order_id == 7


def test_ledger_sums_to_stock_after_every_kind_of_change():
    first, second = ProductFactory(quantity_in_stock=10), ProductFactory(quantity_in_stock=3)
    stock_adjust(product_id=first.pk, delta=-4, actor=None)
    product_update(product_id=second.pk, actor=None, quantity_in_stock=12)
    stock_take(quantities={first.pk: 6, second.pk: 2}, actor=None, order_id=1)
    stock_return(quantities={second.pk: 2}, actor=None, order_id=1)

    assert stock(first, second) == [0, 12]
    assert_ledger_matches_stock()


def test_delete_removes_an_unreferenced_product_and_its_ledger():
    product = ProductFactory(quantity_in_stock=3)

    product_delete(product_id=product.pk)

    assert not Product.objects.filter(pk=product.pk).exists()
    assert not StockMovement.objects.filter(product_id=product.pk).exists()


def test_delete_of_a_referenced_product_is_protected():
    line = OrderLineFactory(quantity=1)

    with pytest.raises(ProtectedError):
        product_delete(product_id=line.product_id)

    assert Product.objects.filter(pk=line.product_id).exists()
    assert StockMovement.objects.filter(product_id=line.product_id).count() == 1


def test_adjust_by_zero_is_refused_without_a_movement():
    product = ProductFactory(quantity_in_stock=5)

    with pytest.raises(ValueError, match="non-zero"):
        stock_adjust(product_id=product.pk, delta=0, actor=None)

    assert stock(product) == [5]
    assert ledger(product) == [("initial", 5, 5)]
