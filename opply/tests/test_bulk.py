"""Rows updated by id from a VALUES list (opply/db/bulk.py), on SQLite and PostgreSQL alike."""

import sqlite3
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from opply.db.bulk import update_by_id
from products.models import Product
from products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_each_row_gets_its_own_values_and_the_others_are_untouched():
    first, second, untouched = ProductFactory.create_batch(3, quantity_in_stock=5, price="1.00")
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    update_by_id(
        Product,
        ["quantity_in_stock", "price"],
        [(first.pk, 7, Decimal("2.50")), (second.pk, 0, Decimal("12345.67"))],
        same={"updated_at": moment},
        increment="version",
    )

    rows = {
        pk: rest
        for pk, *rest in Product.objects.values_list(
            "pk", "quantity_in_stock", "price", "updated_at", "version"
        )
    }
    assert rows[first.pk] == [7, Decimal("2.50"), moment, 2]
    assert rows[second.pk] == [0, Decimal("12345.67"), moment, 2]
    assert rows[untouched.pk][0:2] == [5, Decimal("1.00")]
    assert rows[untouched.pk][3] == 1


def test_nothing_to_update_runs_no_statement(django_assert_num_queries):
    with django_assert_num_queries(0):
        update_by_id(Product, ["quantity_in_stock"], [])


def test_the_sqlite_in_use_runs_update_from():
    assert sqlite3.sqlite_version_info >= (3, 33)
