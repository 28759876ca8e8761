"""A catalogue page without filter input is read by prepared statements of the queryset the
FilterSet gives it: the same answer, byte for byte, by the same statements, as when every
request went through the FilterSet."""

import pytest

from opply.tests.unfiltered import assert_answers_as_through_the_filter_set, filter_sets_built
from products import counts
from products.filters import ProductFilter
from products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

QUERIES = [
    "",
    "?page=2",
    "?page_size=3",
    "?page_size=3&page=3",
    "?page_size=4&page=2",
    "?page=1&format=json",
    "?tag=unknown",
    "?page=99",
    "?page=abc",
    "?page_size=0",
    "?page_size=1000",
]


@pytest.fixture
def catalogue():
    for n in range(9):
        ProductFactory(name=f"Flour {n % 4}", is_active=n % 3 != 0, quantity_in_stock=n)


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("caller", ["buyer_api", "staff_api"])
def test_a_page_without_filter_input_answers_as_through_the_filter_set(
    request, monkeypatch, catalogue, caller, query
):
    client = request.getfixturevalue(caller)

    assert_answers_as_through_the_filter_set(
        monkeypatch, client, f"/products/{query}", before=counts._counts.clear
    )


def test_buyers_never_see_inactive_products_on_any_page(buyer_api, staff_api, catalogue):
    shown = [
        row
        for page in (1, 2)
        for row in buyer_api.get(f"/products/?page_size=3&page={page}").json()["results"]
    ]
    everything = staff_api.get("/products/?page_size=100").json()

    assert [row["is_active"] for row in shown] == [True] * 6
    assert everything["count"] == 9
    assert sorted(r["id"] for r in shown) == sorted(
        r["id"] for r in everything["results"] if r["is_active"]
    )


def test_the_filter_set_is_built_only_for_filter_input(monkeypatch, buyer_api, catalogue):
    buyer_api.get("/products/")  # the prepared statements are built through it once
    built = filter_sets_built(monkeypatch, ProductFilter)

    assert buyer_api.get("/products/?page_size=2&page=2").status_code == 200
    assert built == []
    assert buyer_api.get("/products/?search=flour").status_code == 200
    assert buyer_api.get("/products/?min_price=abc").status_code == 400
    assert len(built) == 2
