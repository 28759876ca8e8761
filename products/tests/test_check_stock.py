"""`manage.py check_stock` reconciles every product with its ledger."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from products.models import Product, StockMovement
from products.services import stock_adjust
from products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def _check_stock() -> str:
    out = StringIO()
    call_command("check_stock", stdout=out)
    return out.getvalue()


def test_check_stock_is_clean_when_every_product_matches_its_ledger():
    first = ProductFactory(quantity_in_stock=10)
    ProductFactory(quantity_in_stock=3)
    stock_adjust(product_id=first.pk, delta=-4, actor=None)

    output = _check_stock()

    assert output.strip() == "Stock ledger clean: 2 products match their movements."


def test_check_stock_counts_a_product_without_movements_and_zero_stock_as_clean():
    product = ProductFactory(quantity_in_stock=0)
    assert not StockMovement.objects.filter(product=product).exists()

    output = _check_stock()

    assert "1 products match" in output


def test_check_stock_reports_stock_without_any_movement():
    product = ProductFactory(quantity_in_stock=0)
    Product.objects.filter(pk=product.pk).update(quantity_in_stock=5)
    out = StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("check_stock", stdout=out)

    assert raised.value.returncode == 1
    assert f"product {product.pk}: quantity_in_stock 5, sum of movements 0" in out.getvalue()


def test_check_stock_lists_every_mismatch_with_both_figures_and_exits_1():
    clean = ProductFactory(quantity_in_stock=7)
    drifted = ProductFactory(quantity_in_stock=10)
    missing_movement = ProductFactory(quantity_in_stock=4)
    Product.objects.filter(pk=drifted.pk).update(quantity_in_stock=8)
    StockMovement.objects.filter(product=missing_movement).delete()
    out = StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("check_stock", stdout=out)

    assert raised.value.returncode == 1
    assert str(raised.value) == "2 of 3 products do not match their stock ledger."
    lines = out.getvalue().splitlines()
    assert lines == [
        f"product {drifted.pk}: quantity_in_stock 8, sum of movements 10 (difference -2)",
        f"product {missing_movement.pk}: quantity_in_stock 4, sum of movements 0 (difference +4)",
    ]
    assert f"product {clean.pk}:" not in out.getvalue()


def test_check_stock_reads_the_catalogue_in_one_query(django_assert_num_queries):
    for _ in range(5):
        ProductFactory(quantity_in_stock=2)

    with django_assert_num_queries(1):
        output = _check_stock()

    assert "5 products match" in output
