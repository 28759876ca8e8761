"""A prepared read answers exactly what its queryset answers, for every argument."""

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext

from opply.prepared import PreparedPages, PreparedRead
from products.models import Product
from products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def _by_id_and_name(pk, name):
    return Product.objects.filter(pk=pk, name=name).values_list(
        "id", "name", "price", "is_active", "created_at"
    )


def test_each_call_answers_as_its_queryset_with_the_orms_sql():
    read = PreparedRead("test-by-id-and-name", _by_id_and_name, int, str)
    first, second = ProductFactory(name="Oats"), ProductFactory(name="Rye")
    for pk, name in [(first.pk, "Oats"), (second.pk, "Rye"), (second.pk, "Oats"), (0, "")]:
        with CaptureQueriesContext(connection) as ours:
            rows = read.rows(pk, name)
        with CaptureQueriesContext(connection) as orms:
            expected = list(_by_id_and_name(pk, name))
        assert rows == expected
        assert [q["sql"] for q in ours] == [q["sql"] for q in orms]
    Product.objects.filter(pk=first.pk).update(name="Barley")
    assert read.rows(first.pk, "Oats") == []
    assert read.rows(first.pk, "Barley")[0][1] == "Barley"


def test_an_argument_used_twice_fills_both_of_its_parameters():
    read = PreparedRead(
        "test-twice",
        lambda pk: Product.objects.filter(pk=pk).filter(pk=pk).values_list("id", "name"),
        int,
    )
    first, second = ProductFactory(name="Oats"), ProductFactory(name="Rye")
    for pk in (first.pk, second.pk, 0):
        with CaptureQueriesContext(connection) as ours:
            rows = read.rows(pk)
        with CaptureQueriesContext(connection) as orms:
            expected = list(Product.objects.filter(pk=pk).filter(pk=pk).values_list("id", "name"))
        assert rows == expected
        assert [q["sql"] for q in ours] == [q["sql"] for q in orms]


def test_an_argument_that_is_not_a_parameter_is_refused():
    read = PreparedRead(
        "test-transformed",
        lambda name: Product.objects.filter(name__icontains=name).values_list("id"),
        str,
    )
    with pytest.raises(ValueError, match="is not a parameter"):
        read.rows("oats")


def _named_other_than(name):
    return Product.objects.exclude(name=name).order_by("name", "id").values_list("id", "name")


def test_each_page_answers_as_its_slice_of_the_queryset_with_the_orms_sql():
    read = PreparedRead("test-pages", _named_other_than, str)
    for n in range(7):
        ProductFactory(name=f"P{n % 3}")
    for other, offset, limit in [
        ("", 0, 3),
        ("", 3, 3),
        ("", 6, 3),
        ("", 5, 2),
        ("P1", 0, 2),
        ("P1", 2, 2),
        ("P1", 4, 2),
        ("", 40, 3),
        ("", 0, 0),
    ]:
        with CaptureQueriesContext(connection) as ours:
            rows = read.page(other, offset=offset, limit=limit)
        with CaptureQueriesContext(connection) as orms:
            expected = list(_named_other_than(other)[offset : offset + limit])
        assert rows == expected, (other, offset, limit)
        assert [q["sql"] for q in ours] == [q["sql"] for q in orms]


def test_pages_of_an_unordered_queryset_are_refused():
    read = PreparedRead("test-unordered", lambda: Product.objects.order_by().values_list("id"))
    with pytest.raises(ValueError, match="unordered"):
        read.page(offset=20, limit=10)


def test_the_count_is_the_querysets_count_by_the_orms_statement():
    read = PreparedRead("test-count", _named_other_than, str)
    for n in range(5):
        ProductFactory(name=f"P{n % 2}")
    for other in ("", "P0", "P1", ""):
        with CaptureQueriesContext(connection) as ours:
            counted = read.count(other)
        with CaptureQueriesContext(connection) as orms:
            expected = _named_other_than(other).count()
        assert counted == expected
        assert [q["sql"] for q in ours] == [q["sql"] for q in orms]


@pytest.mark.parametrize("per_page", [1, 2, 3, 20])
def test_the_paginator_pages_prepared_rows_as_it_pages_the_queryset(per_page):
    read = PreparedRead("test-paginator", _named_other_than, str)
    for n in range(9):
        ProductFactory(name=f"P{n % 3}")
    ours = Paginator(PreparedPages(read, "P0"), per_page)
    orms = Paginator(_named_other_than("P0"), per_page)
    assert ours.count == orms.count == 6
    assert ours.num_pages == orms.num_pages
    for number in ours.page_range:
        with CaptureQueriesContext(connection) as our_sql:
            page = list(ours.page(number))
        with CaptureQueriesContext(connection) as orm_sql:
            expected = list(orms.page(number))
        assert page == expected
        assert [q["sql"] for q in our_sql] == [q["sql"] for q in orm_sql]
