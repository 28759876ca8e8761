"""The catalogue admin: every stock change is a ledger movement."""

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db.models import Sum
from django.urls import reverse

from orders.tests.factories import UserFactory
from products.models import Product, StockMovement
from products.services import stock_adjust
from products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def ledger_sum(product: Product) -> int:
    return product.movements.aggregate(total=Sum("delta"))["total"] or 0


def form_data(fields: dict, movement_ids: tuple[int, ...] = ()) -> dict:
    """A product form as the browser posts it, with the read-only movements inline and the
    quantity rules at their initial values unless given."""
    data = {
        "min_order_quantity": "1",
        "order_increment": "1",
        **fields,
        "movements-TOTAL_FORMS": str(len(movement_ids)),
        "movements-INITIAL_FORMS": str(len(movement_ids)),
        "movements-MIN_NUM_FORMS": "0",
        "movements-MAX_NUM_FORMS": "1000",
    }
    for index, movement_id in enumerate(movement_ids):
        data[f"movements-{index}-id"] = str(movement_id)
    return data


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_product_list_shows_columns_and_filters_by_stock(admin_client):
    ProductFactory(name="Flour", sku="FL-1", quantity_in_stock=5)
    ProductFactory(name="Sugar", sku="SU-1", quantity_in_stock=0)
    url = reverse("admin:products_product_changelist")

    everything = admin_client.get(url)
    in_stock = admin_client.get(url, {"stock": "in"})
    out_of_stock = admin_client.get(url, {"stock": "out"})

    assert everything.status_code == 200
    assert [p.name for p in everything.context["cl"].result_list] == ["Flour", "Sugar"]
    assert [p.name for p in in_stock.context["cl"].result_list] == ["Flour"]
    assert [p.name for p in out_of_stock.context["cl"].result_list] == ["Sugar"]
    assert everything.context["cl"].list_display[1:] == [
        "name",
        "sku",
        "price",
        "quantity_in_stock",
        "case_pack",
        "is_active",
    ]


def test_product_search_matches_name_and_sku(admin_client):
    ProductFactory(name="Oat milk", sku="OAT-1")
    ProductFactory(name="Rye flour", sku="RYE-9")
    url = reverse("admin:products_product_changelist")

    by_name = admin_client.get(url, {"q": "oat"})
    by_sku = admin_client.get(url, {"q": "rye-9"})

    assert [p.sku for p in by_name.context["cl"].result_list] == ["OAT-1"]
    assert [p.sku for p in by_sku.context["cl"].result_list] == ["RYE-9"]


def test_adding_a_product_records_its_initial_stock_as_a_movement(admin_client, admin_user):
    response = admin_client.post(
        reverse("admin:products_product_add"),
        form_data(
            {
                "name": "Cocoa",
                "sku": "CO-1",
                "price": "4.50",
                "quantity_in_stock": "12",
                "is_active": "on",
            }
        ),
    )

    assert response.status_code == 302
    product = Product.objects.get(sku="CO-1")
    assert product.quantity_in_stock == 12
    assert product.price == Decimal("4.50")
    movement = product.movements.get()
    assert (movement.delta, movement.reason, movement.actor) == (12, "initial", admin_user)


def test_changing_a_product_cannot_change_its_stock(admin_client):
    product = ProductFactory(name="Salt", sku="SA-1", quantity_in_stock=7)

    response = admin_client.post(
        reverse("admin:products_product_change", args=[product.pk]),
        form_data(
            {
                "name": "Sea salt",
                "sku": "SA-1",
                "price": "3.00",
                "quantity_in_stock": "999",
                "is_active": "on",
                "loaded_version": str(product.version),
            },
            movement_ids=(product.movements.get().pk,),
        ),
    )

    assert response.status_code == 302
    product.refresh_from_db()
    assert (product.name, product.price, product.quantity_in_stock) == (
        "Sea salt",
        Decimal("3.00"),
        7,
    )
    assert product.movements.count() == 1
    page = admin_client.get(reverse("admin:products_product_change", args=[product.pk]))
    assert "quantity_in_stock" not in page.context["adminform"].form.fields


def test_adjust_stock_records_a_signed_movement_with_the_reason(admin_client, admin_user):
    product = ProductFactory(quantity_in_stock=10)
    url = reverse("admin:products_product_adjust_stock", args=[product.pk])

    page = admin_client.get(url)
    response = admin_client.post(url, {"delta": "-4", "note": "two bags torn"})

    assert page.status_code == 200
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:products_product_change", args=[product.pk])
    product.refresh_from_db()
    assert product.quantity_in_stock == 6
    movement = product.movements.first()
    assert (movement.delta, movement.reason, movement.note, movement.actor) == (
        -4,
        "adjustment",
        "two bags torn",
        admin_user,
    )
    assert ledger_sum(product) == 6
    assert "changed by -4 to 6" in messages_of(response)[0]


def test_adjust_stock_below_zero_shows_an_error_and_changes_nothing(admin_client):
    product = ProductFactory(quantity_in_stock=3)

    response = admin_client.post(
        reverse("admin:products_product_adjust_stock", args=[product.pk]),
        {"delta": "-5", "note": "count"},
    )

    assert response.status_code == 200
    # Said once, beside the field: no message, no "please correct" note repeating it.
    assert response.content.decode().count("Only 3 in stock: stock cannot go below 0.") == 1
    assert "errornote" not in response.content.decode()
    assert messages_of(response) == []
    product.refresh_from_db()
    assert product.quantity_in_stock == 3
    assert product.movements.count() == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"delta": "0", "note": "x"}, "delta"),
        ({"delta": "2", "note": "  "}, "note"),
        ({"delta": str(2**31 - 3), "note": "too many"}, "delta"),
    ],
)
def test_adjust_stock_requires_a_non_zero_change_in_range_and_a_reason(admin_client, data, field):
    product = ProductFactory(quantity_in_stock=3)

    response = admin_client.post(
        reverse("admin:products_product_adjust_stock", args=[product.pk]), data
    )

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert product.movements.count() == 1


def test_product_page_links_to_adjust_stock_and_lists_movements_newest_first(admin_client):
    product = ProductFactory(quantity_in_stock=1)
    stock_adjust(product_id=product.pk, delta=2, actor=None, note="first")
    stock_adjust(product_id=product.pk, delta=3, actor=None, note="second")

    page = admin_client.get(reverse("admin:products_product_change", args=[product.pk]))

    assert page.status_code == 200
    assert (
        reverse("admin:products_product_adjust_stock", args=[product.pk]) in page.content.decode()
    )
    inline = page.context["inline_admin_formsets"][0]
    assert [form.original.delta for form in inline] == [3, 2, 1]
    assert not inline.has_add_permission
    assert not inline.has_change_permission


def test_staff_without_permissions_cannot_adjust_stock(client):
    product = ProductFactory(quantity_in_stock=3)
    client.force_login(UserFactory(username="clerk", is_staff=True))

    response = client.post(
        reverse("admin:products_product_adjust_stock", args=[product.pk]),
        {"delta": "5", "note": "x"},
    )

    assert response.status_code == 403
    assert product.movements.count() == 1


def test_movements_admin_is_read_only_and_filters_by_reason_and_product(admin_client):
    flour = ProductFactory(name="Flour", sku="FL-1", quantity_in_stock=5)
    sugar = ProductFactory(name="Sugar", sku="SU-1", quantity_in_stock=5)
    stock_adjust(product_id=flour.pk, delta=-1, actor=None, note="spill")
    url = reverse("admin:products_stockmovement_changelist")

    by_reason = admin_client.get(url, {"reason": "adjustment"})
    by_sku = admin_client.get(url, {"product": "SU-1"})
    by_id = admin_client.get(url, {"product": str(flour.pk)})
    by_search = admin_client.get(url, {"q": "sugar"})
    add = admin_client.get(reverse("admin:products_stockmovement_add"))

    assert [(m.product_id, m.delta) for m in by_reason.context["cl"].result_list] == [
        (flour.pk, -1)
    ]
    assert [m.product_id for m in by_sku.context["cl"].result_list] == [sugar.pk]
    assert sorted(m.delta for m in by_id.context["cl"].result_list) == [-1, 5]
    assert [m.product_id for m in by_search.context["cl"].result_list] == [sugar.pk]
    assert add.status_code == 403
    movement = StockMovement.objects.filter(product=flour).latest("id")
    change = admin_client.post(
        reverse("admin:products_stockmovement_change", args=[movement.pk]), {"delta": "100"}
    )
    assert change.status_code == 403
    movement.refresh_from_db()
    assert movement.delta == -1


def test_movements_list_query_count_does_not_grow_with_rows(
    admin_client, django_assert_max_num_queries
):
    for _ in range(30):
        ProductFactory(quantity_in_stock=2)

    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse("admin:products_stockmovement_changelist"))

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 30


def test_deleting_a_product_through_the_admin_removes_it_and_its_ledger(admin_client):
    product = ProductFactory()

    response = admin_client.post(
        reverse("admin:products_product_delete", args=[product.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not Product.objects.filter(pk=product.pk).exists()
    assert not StockMovement.objects.filter(product_id=product.pk).exists()


def test_adding_a_product_with_a_taken_sku_shows_the_form_error(admin_client):
    ProductFactory(sku="DUP-1")

    response = admin_client.post(
        reverse("admin:products_product_add"),
        form_data({"name": "Again", "sku": "DUP-1", "price": "1.00", "quantity_in_stock": "1"}),
    )

    assert response.status_code == 200
    assert "sku" in response.context["adminform"].form.errors
    assert Product.objects.filter(sku="DUP-1").count() == 1


def change_product(admin_client, product: Product, **fields: str):
    page = admin_client.get(reverse("admin:products_product_change", args=[product.pk]))
    initial = page.context["adminform"].form.initial
    data = {
        "name": product.name,
        "sku": product.sku or "",
        "price": str(product.price),
        "is_active": "on",
        "min_order_quantity": str(product.min_order_quantity),
        "order_increment": str(product.order_increment),
        "max_order_quantity": str(product.max_order_quantity or ""),
        "loaded_version": str(initial["loaded_version"]),
        **fields,
    }
    movement_ids = tuple(product.movements.values_list("pk", flat=True))
    return admin_client.post(
        reverse("admin:products_product_change", args=[product.pk]), form_data(data, movement_ids)
    )


def test_product_form_sets_quantity_rules_and_bumps_the_version(admin_client):
    product = ProductFactory(name="Eggs", sku="EG-1")

    response = change_product(
        admin_client, product, min_order_quantity="12", order_increment="6", max_order_quantity="60"
    )

    assert response.status_code == 302
    product.refresh_from_db()
    rules = (product.min_order_quantity, product.order_increment, product.max_order_quantity)
    assert rules == (12, 6, 60)
    assert product.version == 2


def test_product_form_refuses_incoherent_quantity_rules(admin_client):
    product = ProductFactory(name="Eggs", sku="EG-1")

    response = change_product(
        admin_client, product, min_order_quantity="10", order_increment="6", max_order_quantity="9"
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "multiple of the order increment" in str(errors["min_order_quantity"])
    assert "at least the minimum" in str(errors["max_order_quantity"])
    product.refresh_from_db()
    assert (product.min_order_quantity, product.order_increment, product.version) == (1, 1, 1)


def test_product_form_refuses_to_save_over_a_newer_version(admin_client, staff_api):
    product = ProductFactory(name="Eggs", sku="EG-1", price=Decimal("2.00"))
    page = admin_client.get(reverse("admin:products_product_change", args=[product.pk]))
    opened_at = page.context["adminform"].form.initial["loaded_version"]
    staff_api.patch(f"/products/{product.pk}/", {"price": "2.50"})

    response = change_product(admin_client, product, price="1.00", loaded_version=str(opened_at))

    assert response.status_code == 200
    assert "changed by someone else since you opened it" in str(
        response.context["adminform"].form.non_field_errors()
    )
    product.refresh_from_db()
    assert (product.price, product.version) == (Decimal("2.50"), 2)
