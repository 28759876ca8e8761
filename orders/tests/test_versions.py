"""Versions, ETags and conditional requests on products and orders (docs/b2b.md)."""

import pytest

from orders.models import Order, OrderLine
from products.models import Product
from products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def version_of(model, pk) -> int:
    return model.objects.values_list("version", flat=True).get(pk=pk)


def test_a_product_is_served_with_its_version_as_etag_and_304_when_unchanged(buyer_api, product):
    first = buyer_api.get(f"/products/{product.pk}/")
    again = buyer_api.get(f"/products/{product.pk}/", HTTP_IF_NONE_MATCH=first["ETag"])
    weak = buyer_api.get(f"/products/{product.pk}/", HTTP_IF_NONE_MATCH='W/"1", "7"')
    other = buyer_api.get(f"/products/{product.pk}/", HTTP_IF_NONE_MATCH='"7"')

    assert first["ETag"] == '"1"'
    assert (again.status_code, again.content, again["ETag"]) == (304, b"", '"1"')
    assert weak.status_code == 304
    assert other.status_code == 200


def test_a_catalogue_page_has_a_weak_etag_that_follows_its_content(
    buyer_api, staff_api, product, django_capture_on_commit_callbacks
):
    first = buyer_api.get("/products/")
    unchanged = buyer_api.get("/products/", HTTP_IF_NONE_MATCH=first["ETag"])
    other_page = buyer_api.get(
        "/products/?page_size=1&search=zzz", HTTP_IF_NONE_MATCH=first["ETag"]
    )
    with django_capture_on_commit_callbacks(execute=True):  # the catalogue marker moves
        staff_api.patch(f"/products/{product.pk}/", {"price": "1.00"}, format="json")
    changed = buyer_api.get("/products/", HTTP_IF_NONE_MATCH=first["ETag"])

    assert first["ETag"].startswith('W/"')
    assert (unchanged.status_code, unchanged.content) == (304, b"")
    assert other_page.status_code == 200
    assert changed.status_code == 200
    assert changed["ETag"] != first["ETag"]


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_a_stale_if_match_on_a_product_write_is_412_and_changes_nothing(staff_api, product, method):
    body = {"name": "Renamed", "price": "1.00", "quantity_in_stock": 3}
    staff_api.patch(f"/products/{product.pk}/", {"price": "2.00"}, format="json")

    response = getattr(staff_api, method)(
        f"/products/{product.pk}/", body, format="json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 412
    assert response.json()["code"] == "precondition_failed"
    assert response.json()["current_version"] == 2
    product.refresh_from_db()
    assert (product.name, str(product.price), product.quantity_in_stock, product.version) == (
        "Product 1",
        "2.00",
        10,
        2,
    )


def test_a_current_if_match_lets_the_write_through_and_bumps_the_version(staff_api, product):
    response = staff_api.patch(
        f"/products/{product.pk}/",
        {"price": "3.00", "quantity_in_stock": 4},
        format="json",
        HTTP_IF_MATCH='"0", "1"',
    )
    deleted = staff_api.delete(f"/products/{product.pk}/", HTTP_IF_MATCH='"2"')

    assert response.status_code == 200
    assert (response.json()["version"], response["ETag"]) == (2, '"2"')
    assert deleted.status_code == 204
    assert not Product.objects.filter(pk=product.pk).exists()


def test_a_weak_or_malformed_if_match_never_matches(staff_api, product):
    for header in ['W/"1"', "1", "garbage"]:
        response = staff_api.patch(
            f"/products/{product.pk}/", {"price": "3.00"}, format="json", HTTP_IF_MATCH=header
        )
        assert response.status_code == 412, header
    assert version_of(Product, product.pk) == 1


def test_every_stock_change_bumps_the_product_version(buyer_api, staff_api, product):
    order_id = buyer_api.post(f"/products/{product.pk}/add_to_order/").json()["id"]
    assert version_of(Product, product.pk) == 1

    buyer_api.post(f"/orders/{order_id}/submit/")
    after_submit = version_of(Product, product.pk)
    staff_api.post(f"/orders/{order_id}/cancel/")

    assert after_submit == 2
    assert version_of(Product, product.pk) == 3


def test_every_order_change_bumps_its_version(buyer_api, staff_api, product):
    versions = []
    added = buyer_api.post(f"/products/{product.pk}/add_to_order/").json()
    versions.append(added["version"])
    order_id = added["id"]
    versions.append(buyer_api.post(f"/products/{product.pk}/add_to_order/").json()["version"])
    versions.append(buyer_api.post(f"/products/{product.pk}/remove_from_order/").json()["version"])
    versions.append(buyer_api.post(f"/orders/{order_id}/submit/").json()["version"])
    versions.append(staff_api.post(f"/orders/{order_id}/fulfil/").json()["version"])

    assert versions == [2, 3, 4, 5, 6]
    assert version_of(Order, order_id) == 6


def test_an_order_is_served_with_its_etag_and_304_when_unchanged(buyer_api, product):
    order_id = buyer_api.post(f"/products/{product.pk}/add_to_order/").json()["id"]

    detail = buyer_api.get(f"/orders/{order_id}/")
    current = buyer_api.get("/orders/current/", HTTP_IF_NONE_MATCH=detail["ETag"])
    cached = buyer_api.get(f"/orders/{order_id}/", HTTP_IF_NONE_MATCH=detail["ETag"])
    buyer_api.post(f"/products/{product.pk}/add_to_order/")
    changed = buyer_api.get(f"/orders/{order_id}/", HTTP_IF_NONE_MATCH=detail["ETag"])

    assert detail["ETag"] == '"2"'
    assert current.status_code == cached.status_code == 304
    assert changed.status_code == 200
    assert changed["ETag"] == '"3"'


def test_a_stale_if_match_on_order_writes_is_412_and_changes_nothing(buyer_api, buyer, product):
    order_id = buyer_api.post(f"/products/{product.pk}/add_to_order/").json()["id"]
    stale = {"HTTP_IF_MATCH": '"1"'}

    responses = [
        buyer_api.post(f"/products/{product.pk}/add_to_order/", **stale),
        buyer_api.post(f"/products/{product.pk}/remove_from_order/", **stale),
        buyer_api.patch("/orders/current/", {"note": "x"}, format="json", **stale),
        buyer_api.patch(f"/orders/{order_id}/", {"note": "x"}, format="json", **stale),
        buyer_api.post(f"/orders/{order_id}/submit/", **stale),
    ]

    assert [r.status_code for r in responses] == [412] * 5
    assert {r.json()["current_version"] for r in responses} == {2}
    order = Order.objects.get(pk=order_id)
    assert (order.status, order.note, order.version) == ("active", "", 2)
    assert OrderLine.objects.get(order=order).quantity == 1


def test_a_current_if_match_on_submit_goes_through(buyer_api, product):
    added = buyer_api.post(f"/products/{product.pk}/add_to_order/")

    response = buyer_api.post(f"/orders/{added.json()['id']}/submit/", HTTP_IF_MATCH=added["ETag"])

    assert response.status_code == 200
    assert response.json()["status"] == "submitted"


def test_a_new_product_starts_at_version_one(staff_api):
    created = staff_api.post(
        "/products/", {"name": "N", "price": "1.00", "quantity_in_stock": 1}, format="json"
    )

    assert (created.json()["version"], created["ETag"]) == (1, '"1"')
    assert ProductFactory().version == 1


def test_a_write_that_changes_nothing_keeps_the_version(staff_api, product):
    same = staff_api.patch(f"/products/{product.pk}/", {"price": "11.11"}, format="json")

    assert (same.status_code, same.json()["version"]) == (200, 1)
    assert version_of(Product, product.pk) == 1


def test_if_match_star_accepts_any_current_version(staff_api, product):
    staff_api.patch(f"/products/{product.pk}/", {"price": "2.00"}, format="json")

    response = staff_api.patch(
        f"/products/{product.pk}/", {"price": "3.00"}, format="json", HTTP_IF_MATCH="*"
    )

    assert (response.status_code, response.json()["version"]) == (200, 3)


def test_a_new_cart_never_reuses_a_version_the_buyer_saw_on_an_earlier_cart(buyer_api, product):
    """Two devices: one submits and starts a new cart; the other still holds the old cart's
    ETag from /orders/current/. That ETag must neither match the new cart (304) nor let a
    write through (If-Match)."""
    product.quantity_in_stock = 100
    product.save()
    buyer_api.post(f"/products/{product.pk}/add_to_order/", {"quantity": 1}, format="json")
    old = buyer_api.get("/orders/current/")
    buyer_api.post(f"/orders/{old.json()['id']}/submit/")
    # The new cart changes until its version is at least the one the other device holds.
    new = buyer_api.post(f"/products/{product.pk}/add_to_order/", {"quantity": 1}, format="json")
    while new.json()["version"] < old.json()["version"]:
        new = buyer_api.post(
            f"/products/{product.pk}/add_to_order/", {"quantity": 1}, format="json"
        )

    stale_read = buyer_api.get("/orders/current/", HTTP_IF_NONE_MATCH=old["ETag"])
    stale_write = buyer_api.patch(
        "/orders/current/", {"po_number": "STALE"}, format="json", HTTP_IF_MATCH=old["ETag"]
    )

    assert new.json()["id"] != old.json()["id"]
    assert new.json()["version"] > old.json()["version"]  # never equal: it started above
    assert stale_read.status_code == 200
    assert stale_write.status_code == 412
    assert Order.objects.get(pk=new.json()["id"]).po_number in ("", None)
