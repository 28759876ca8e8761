"""A prepared read answers exactly what its queryset answers, for every argument."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from opply.prepared import PreparedRead
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


def test_an_argument_that_is_not_one_parameter_is_refused():
    read = PreparedRead(
        "test-twice", lambda pk: Product.objects.filter(pk=pk).exclude(pk=pk).values_list("id"), int
    )
    with pytest.raises(ValueError, match="not one parameter"):
        read.rows(1)
