"""GET /products/ query parameters: search, in_stock, price range, ordering, bad values."""

from decimal import Decimal
from operator import attrgetter

import pytest

from products.models import Product
from products.services import product_create

pytestmark = pytest.mark.django_db


def make(name: str, *, sku: str | None = None, price: str = "10.00", stock: int = 5) -> Product:
    return product_create(
        actor=None, name=name, sku=sku, price=Decimal(price), quantity_in_stock=stock
    )


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_search_matches_part_of_the_name_in_any_case(buyer_api):
    oats = make("Rolled Oats")
    make("Barley")

    assert ids(buyer_api.get("/products/", {"search": "oAtS"})) == [oats.pk]


def test_search_matches_part_of_the_sku(buyer_api):
    make("Oats", sku="GRN-001")
    honey = make("Honey", sku="SWT-777")

    assert ids(buyer_api.get("/products/", {"search": "wt-7"})) == [honey.pk]


def test_search_with_no_match_is_an_empty_page(buyer_api):
    make("Oats")

    response = buyer_api.get("/products/", {"search": "caviar"})

    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_search_never_reveals_inactive_products_to_buyers(buyer_api, staff_api):
    hidden = product_create(
        actor=None, name="Hidden oats", price=Decimal("1.00"), quantity_in_stock=1, is_active=False
    )

    assert ids(buyer_api.get("/products/", {"search": "oats"})) == []
    assert ids(staff_api.get("/products/", {"search": "oats"})) == [hidden.pk]


@pytest.mark.parametrize("value", ["true", "True", "1"])
def test_in_stock_true_lists_products_with_stock(buyer_api, value):
    stocked = make("Stocked", stock=1)
    make("Sold out", stock=0)

    assert ids(buyer_api.get("/products/", {"in_stock": value})) == [stocked.pk]


@pytest.mark.parametrize("value", ["false", "0"])
def test_in_stock_false_lists_sold_out_products(buyer_api, value):
    make("Stocked", stock=1)
    sold_out = make("Sold out", stock=0)

    assert ids(buyer_api.get("/products/", {"in_stock": value})) == [sold_out.pk]


def test_min_and_max_price_are_inclusive_bounds(buyer_api):
    cheap = make("Cheap", price="1.00")
    middle = make("Middle", price="5.50")
    dear = make("Dear", price="10.00")

    assert ids(buyer_api.get("/products/", {"min_price": "5.50"})) == [middle.pk, dear.pk]
    assert ids(buyer_api.get("/products/", {"max_price": "5.50"})) == [cheap.pk, middle.pk]
    assert ids(buyer_api.get("/products/", {"min_price": "2", "max_price": "9.99"})) == [middle.pk]


def test_filters_combine(buyer_api):
    wanted = make("Oat milk", price="3.00", stock=4)
    make("Oat flakes", price="3.00", stock=0)
    make("Oat bran", price="30.00", stock=4)
    make("Rice", price="3.00", stock=4)

    response = buyer_api.get("/products/", {"search": "oat", "in_stock": "true", "max_price": "10"})

    assert ids(response) == [wanted.pk]


ORDERINGS = ["name", "price", "quantity_in_stock", "id"]


@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
@pytest.mark.parametrize("field", ORDERINGS)
def test_ordering_by_each_field_breaks_ties_by_id(buyer_api, field, descending):
    # Pairs share a name, a price and a stock, so every field has ties to break.
    made = [
        make("Beta", price="2.00", stock=7),
        make("Alpha", price="9.00", stock=3),
        make("Beta", price="2.00", stock=7),
        make("Alpha", price="9.00", stock=3),
        make("Gamma", price="5.00", stock=0),
    ]

    by_id = sorted(made, key=attrgetter("pk"))
    # sorted() is stable, reverse=True included: ties keep their ascending ids.
    expected = sorted(by_id, key=attrgetter(field), reverse=descending)
    param = f"-{field}" if descending else field

    assert ids(buyer_api.get("/products/", {"ordering": param})) == [p.pk for p in expected]


def test_default_order_is_by_id(buyer_api):
    second = make("B")
    first = make("A")

    assert ids(buyer_api.get("/products/")) == [second.pk, first.pk]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("min_price", "abc"),
        ("max_price", "abc"),
        ("min_price", "-1"),
        ("ordering", "bogus"),
        ("ordering", "-created_at"),
        ("in_stock", "maybe"),
        ("search", "x" * 201),
    ],
)
def test_an_invalid_value_is_400_naming_the_field(buyer_api, field, value):
    make("Oats")

    response = buyer_api.get("/products/", {field: value})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["errors"]) == [field]
    assert body["errors"][field]


def test_anonymous_callers_cannot_query_the_catalogue(api):
    make("Oats")

    response = api.get("/products/", {"search": "oats"})

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
