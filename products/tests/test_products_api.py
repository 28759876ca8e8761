"""/products/: catalogue reads for everyone signed in, writes for staff, the stock ledger."""

from decimal import Decimal

import pytest

from orders.tests.factories import OrderLineFactory
from products.models import Product, StockMovement
from products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

PRODUCT_KEYS = {
    "id",
    "name",
    "sku",
    "price",
    "quantity_in_stock",
    "is_active",
    "min_order_quantity",
    "order_increment",
    "max_order_quantity",
    "version",
}
VALID = {"name": "Widget", "price": "11.11", "quantity_in_stock": 10}
MISSING = object()


def make_products(count: int, **fields) -> list[Product]:
    defaults = {"price": Decimal("1.00"), "quantity_in_stock": 1, **fields}
    return Product.objects.bulk_create(
        [Product(name=f"P{n:03d}", **defaults) for n in range(count)]
    )


def movements(product: Product) -> list[tuple[str, int, int]]:
    return list(
        StockMovement.objects.filter(product=product)
        .order_by("id")
        .values_list("reason", "delta", "quantity_after")
    )


# --- reads ---------------------------------------------------------------------------


def test_list_is_paginated_in_id_order(buyer_api):
    products = make_products(25)

    first = buyer_api.get("/products/")
    second = buyer_api.get(first.json()["next"])

    assert first.status_code == second.status_code == 200
    page = first.json()
    assert set(page) == {"count", "next", "previous", "results"}
    assert page["count"] == 25
    assert page["previous"] is None
    assert [p["id"] for p in page["results"]] == [p.pk for p in products[:20]]
    assert set(page["results"][0]) == PRODUCT_KEYS
    assert second.json()["next"] is None
    assert second.json()["previous"] is not None
    assert [p["id"] for p in second.json()["results"]] == [p.pk for p in products[20:]]


def test_product_json_shape_has_money_as_string(buyer_api, product):
    response = buyer_api.get(f"/products/{product.pk}/")

    assert response.status_code == 200
    assert response.json() == {
        "id": product.pk,
        "name": "Product 1",
        "sku": product.sku,
        "price": "11.11",
        "quantity_in_stock": 10,
        "is_active": True,
        "min_order_quantity": 1,
        "order_increment": 1,
        "max_order_quantity": None,
        "version": 1,
    }


def test_page_size_is_capped_at_100(buyer_api):
    make_products(105)

    capped = buyer_api.get("/products/?page_size=500").json()
    chosen = buyer_api.get("/products/?page_size=7").json()

    assert capped["count"] == 105
    assert len(capped["results"]) == 100
    assert len(chosen["results"]) == 7


def test_page_beyond_the_last_is_404_json(buyer_api):
    make_products(3)

    response = buyer_api.get("/products/?page=5")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_ordering_ties_are_broken_by_id(buyer_api):
    products = make_products(30, price=Decimal("5.00"))

    pages = [buyer_api.get(f"/products/?ordering=-price&page_size=10&page={n}") for n in (1, 2, 3)]

    ids = [p["id"] for page in pages for p in page.json()["results"]]
    assert ids == [p.pk for p in products]


def test_detail_of_unknown_product_is_404(buyer_api):
    response = buyer_api.get("/products/424242/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_inactive_products_are_hidden_from_buyers(buyer_api):
    visible = ProductFactory()
    hidden = ProductFactory(is_active=False)

    listing = buyer_api.get("/products/").json()
    detail = buyer_api.get(f"/products/{hidden.pk}/")

    assert [p["id"] for p in listing["results"]] == [visible.pk]
    assert listing["count"] == 1
    assert detail.status_code == 404
    assert detail.json()["code"] == "not_found"


def test_inactive_products_are_visible_to_staff(staff_api):
    visible = ProductFactory()
    hidden = ProductFactory(is_active=False)

    listing = staff_api.get("/products/").json()
    detail = staff_api.get(f"/products/{hidden.pk}/")

    assert [p["id"] for p in listing["results"]] == [visible.pk, hidden.pk]
    assert detail.status_code == 200
    assert detail.json()["is_active"] is False


def test_anonymous_reads_are_401(api, product):
    for path in ("/products/", f"/products/{product.pk}/"):
        response = api.get(path)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"
        assert response.json()["code"] == "not_authenticated"


# --- create ----------------------------------------------------------------------------


def test_staff_creates_a_product_with_an_initial_movement(staff_api, staff):
    response = staff_api.post("/products/", {**VALID, "sku": "W-1"})

    assert response.status_code == 201
    body = response.json()
    product = Product.objects.get(pk=body["id"])
    assert body == {
        "id": product.pk,
        "name": "Widget",
        "sku": "W-1",
        "price": "11.11",
        "quantity_in_stock": 10,
        "is_active": True,
        "min_order_quantity": 1,
        "order_increment": 1,
        "max_order_quantity": None,
        "version": 1,
    }
    assert (product.name, product.price, product.quantity_in_stock) == (
        "Widget",
        Decimal("11.11"),
        10,
    )
    movement = StockMovement.objects.get(product=product)
    assert (movement.reason, movement.delta, movement.quantity_after, movement.actor) == (
        "initial",
        10,
        10,
        staff,
    )


def test_create_without_sku_stores_null(staff_api):
    response = staff_api.post("/products/", {**VALID, "sku": "  "})

    assert response.status_code == 201
    assert response.json()["sku"] is None
    assert Product.objects.get().sku is None


def test_create_with_zero_stock_writes_no_movement(staff_api):
    response = staff_api.post("/products/", {**VALID, "quantity_in_stock": 0})

    assert response.status_code == 201
    assert not StockMovement.objects.exists()


def test_buyer_cannot_create(buyer_api):
    response = buyer_api.post("/products/", VALID)

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert not Product.objects.exists()


def test_anonymous_cannot_create(api):
    response = api.post("/products/", VALID)

    assert response.status_code == 401
    assert not Product.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": MISSING}, "name"),
        ({"price": MISSING}, "price"),
        ({"quantity_in_stock": MISSING}, "quantity_in_stock"),
        ({"price": None}, "price"),
        ({"quantity_in_stock": None}, "quantity_in_stock"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": {"a": 1}}, "name"),
        ({"price": "-0.01"}, "price"),
        ({"price": "1.234"}, "price"),
        ({"price": "abc"}, "price"),
        ({"price": "NaN"}, "price"),
        ({"price": "Infinity"}, "price"),
        ({"price": "1e99"}, "price"),
        ({"price": 1e99}, "price"),
        ({"price": 10**30}, "price"),
        ({"price": "10000000000.00"}, "price"),
        ({"price": [1]}, "price"),
        ({"quantity_in_stock": -1}, "quantity_in_stock"),
        ({"quantity_in_stock": 10**30}, "quantity_in_stock"),
        ({"quantity_in_stock": 2**31}, "quantity_in_stock"),
        ({"quantity_in_stock": 1.5}, "quantity_in_stock"),
        ({"quantity_in_stock": "many"}, "quantity_in_stock"),
        ({"quantity_in_stock": True}, "quantity_in_stock"),
        ({"is_active": "maybe"}, "is_active"),
        ({"sku": "s" * 65}, "sku"),
    ],
)
def test_invalid_product_is_400_naming_the_field(staff_api, change, field):
    payload = {k: v for k, v in {**VALID, **change}.items() if v is not MISSING}

    response = staff_api.post("/products/", payload)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["errors"]
    assert not Product.objects.exists()


def test_duplicate_sku_is_400(staff_api):
    ProductFactory(sku="DUP")

    response = staff_api.post("/products/", {**VALID, "sku": "DUP"})

    assert response.status_code == 400
    assert "sku" in response.json()["errors"]
    assert Product.objects.count() == 1


def test_largest_allowed_numbers_are_accepted(staff_api):
    response = staff_api.post(
        "/products/", {"name": "Big", "price": "9999999999.99", "quantity_in_stock": 2**31 - 1}
    )

    assert response.status_code == 201
    assert Product.objects.get().price == Decimal("9999999999.99")


# --- update --------------------------------------------------------------------------


def test_patch_stock_writes_an_adjustment_movement(staff_api, staff, product):
    response = staff_api.patch(f"/products/{product.pk}/", {"quantity_in_stock": 4})

    assert response.status_code == 200
    assert response.json()["quantity_in_stock"] == 4
    product.refresh_from_db()
    assert product.quantity_in_stock == 4
    assert movements(product) == [("initial", 10, 10), ("adjustment", -6, 4)]
    assert StockMovement.objects.get(reason="adjustment").actor == staff


def test_put_replaces_every_field_and_records_the_stock_change(staff_api, product):
    response = staff_api.put(
        f"/products/{product.pk}/",
        {
            "name": "Renamed",
            "price": "2.50",
            "quantity_in_stock": 25,
            "sku": "NEW",
            "is_active": False,
        },
    )

    assert response.status_code == 200
    product.refresh_from_db()
    assert (product.name, product.price, product.quantity_in_stock, product.sku) == (
        "Renamed",
        Decimal("2.50"),
        25,
        "NEW",
    )
    assert product.is_active is False
    assert movements(product) == [("initial", 10, 10), ("adjustment", 15, 25)]


def test_put_without_required_fields_is_400(staff_api, product):
    response = staff_api.put(f"/products/{product.pk}/", {"name": "Only a name"})

    assert response.status_code == 400
    assert {"price", "quantity_in_stock"} <= set(response.json()["errors"])
    product.refresh_from_db()
    assert product.name == "Product 1"


def test_patch_without_stock_change_writes_no_movement(staff_api, product):
    response = staff_api.patch(
        f"/products/{product.pk}/", {"price": "99.99", "quantity_in_stock": 10}
    )

    assert response.status_code == 200
    assert response.json()["price"] == "99.99"
    assert movements(product) == [("initial", 10, 10)]


def test_patch_keeping_own_sku_is_allowed_but_taking_another_is_400(staff_api):
    mine = ProductFactory(sku="MINE")
    ProductFactory(sku="THEIRS")

    same = staff_api.patch(f"/products/{mine.pk}/", {"sku": "MINE", "name": "n"})
    clash = staff_api.patch(f"/products/{mine.pk}/", {"sku": "THEIRS"})

    assert same.status_code == 200
    assert clash.status_code == 400
    assert "sku" in clash.json()["errors"]
    mine.refresh_from_db()
    assert mine.sku == "MINE"


@pytest.mark.parametrize(
    "change",
    [{"quantity_in_stock": -5}, {"price": "-1"}, {"price": "0.001"}, {"quantity_in_stock": 10**30}],
)
def test_invalid_patch_is_400_and_changes_nothing(staff_api, product, change):
    response = staff_api.patch(f"/products/{product.pk}/", change)

    assert response.status_code == 400
    product.refresh_from_db()
    assert (product.price, product.quantity_in_stock) == (Decimal("11.11"), 10)
    assert movements(product) == [("initial", 10, 10)]


def test_buyer_cannot_update(buyer_api, product):
    for method in (buyer_api.put, buyer_api.patch):
        response = method(f"/products/{product.pk}/", {**VALID, "name": "Hacked"})
        assert response.status_code == 403
    product.refresh_from_db()
    assert product.name == "Product 1"


def test_anonymous_cannot_update(api, product):
    assert api.patch(f"/products/{product.pk}/", {"name": "Hacked"}).status_code == 401
    product.refresh_from_db()
    assert product.name == "Product 1"


def test_staff_can_reactivate_an_inactive_product(staff_api):
    hidden = ProductFactory(is_active=False)

    response = staff_api.patch(f"/products/{hidden.pk}/", {"is_active": True})

    assert response.status_code == 200
    hidden.refresh_from_db()
    assert hidden.is_active is True


# --- delete ----------------------------------------------------------------------------


def test_delete_of_an_unreferenced_product_is_204(staff_api, product):
    response = staff_api.delete(f"/products/{product.pk}/")

    assert response.status_code == 204
    assert response.content == b""
    assert not Product.objects.filter(pk=product.pk).exists()


def test_delete_of_a_product_in_an_order_is_409_and_deletes_nothing(staff_api, product):
    line = OrderLineFactory(product=product, quantity=2)

    response = staff_api.delete(f"/products/{product.pk}/")

    assert response.status_code == 409
    assert response.json()["code"] == "protected"
    assert Product.objects.filter(pk=product.pk).exists()
    assert movements(product) == [("initial", 10, 10)]
    line.refresh_from_db()
    assert line.quantity == 2


def test_buyer_and_anonymous_cannot_delete(buyer_api, api, product):
    assert buyer_api.delete(f"/products/{product.pk}/").status_code == 403
    assert api.delete(f"/products/{product.pk}/").status_code == 401
    assert Product.objects.filter(pk=product.pk).exists()


def test_delete_of_unknown_product_is_404(staff_api):
    response = staff_api.delete("/products/777777/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --- stock movements -------------------------------------------------------------------


def test_stock_movements_are_newest_first_and_paginated(staff_api, staff, product):
    for stock in (7, 9, 3):
        staff_api.patch(f"/products/{product.pk}/", {"quantity_in_stock": stock})
    other = ProductFactory()

    response = staff_api.get(f"/products/{product.pk}/stock_movements/?page_size=3")

    assert response.status_code == 200
    page = response.json()
    assert page["count"] == 4
    assert page["next"] is not None
    assert [(m["reason"], m["delta"], m["quantity_after"]) for m in page["results"]] == [
        ("adjustment", -6, 3),
        ("adjustment", 2, 9),
        ("adjustment", -3, 7),
    ]
    first = page["results"][0]
    assert first["product"] == product.pk
    assert first["actor"] == staff.username
    assert set(first) == {"id", "product", "delta", "reason", "order_id", "actor", "note"} | {
        "quantity_after",
        "created_at",
    }
    assert other.pk not in {m["product"] for m in page["results"]}


def test_stock_movements_of_an_inactive_product_are_visible_to_staff(staff_api):
    hidden = ProductFactory(is_active=False, quantity_in_stock=3)

    response = staff_api.get(f"/products/{hidden.pk}/stock_movements/")

    assert response.status_code == 200
    assert [m["reason"] for m in response.json()["results"]] == ["initial"]


def test_stock_movements_are_staff_only(buyer_api, api, product):
    forbidden = buyer_api.get(f"/products/{product.pk}/stock_movements/")
    anonymous = api.get(f"/products/{product.pk}/stock_movements/")

    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "permission_denied"
    assert anonymous.status_code == 401


# --- filters -----------------------------------------------------------------------------


@pytest.fixture
def catalogue():
    return {
        "flour": ProductFactory(name="Rye flour", sku="FL-1", price="3.50", quantity_in_stock=0),
        "sugar": ProductFactory(name="Sugar", sku="SU-1", price="1.20", quantity_in_stock=8),
        "yeast": ProductFactory(name="Yeast", sku="FLX-9", price="9.99", quantity_in_stock=2),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("search=flour", ["flour"]),
        ("search=FL", ["flour", "yeast"]),
        ("in_stock=true", ["sugar", "yeast"]),
        ("in_stock=false", ["flour"]),
        ("min_price=3.50", ["flour", "yeast"]),
        ("max_price=3.5", ["flour", "sugar"]),
        ("min_price=2&max_price=5", ["flour"]),
        ("ordering=price", ["sugar", "flour", "yeast"]),
        ("ordering=-quantity_in_stock", ["sugar", "yeast", "flour"]),
        ("ordering=name", ["flour", "sugar", "yeast"]),
        ("ordering=-id", ["yeast", "sugar", "flour"]),
    ],
)
def test_filters_and_ordering(buyer_api, catalogue, query, expected):
    response = buyer_api.get(f"/products/?{query}")

    assert response.status_code == 200
    assert [p["id"] for p in response.json()["results"]] == [catalogue[n].pk for n in expected]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("min_price=abc", "min_price"),
        ("min_price=1e999", "min_price"),
        ("max_price=-1", "max_price"),
        ("in_stock=maybe", "in_stock"),
        ("ordering=secret_field", "ordering"),
        ("search=" + "x" * 201, "search"),
        ("search=%00", "search"),
    ],
)
def test_invalid_filter_is_400_naming_the_parameter(buyer_api, catalogue, query, field):
    response = buyer_api.get(f"/products/?{query}")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"]


@pytest.mark.parametrize("page", ["abc", "0", "99999999999999999999999"])
def test_invalid_page_is_404_json(buyer_api, catalogue, page):
    response = buyer_api.get(f"/products/?page={page}")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
