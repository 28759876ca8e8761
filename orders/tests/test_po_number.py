"""PO number and note on orders, and who ordered (docs/b2b.md)."""

import pytest
from django.urls import reverse

from orders.models import Order
from orders.services import order_cancel

pytestmark = pytest.mark.django_db


def cart_with(client, product) -> int:
    return client.post(f"/products/{product.pk}/add_to_order/").json()["id"]


def test_patch_current_sets_po_number_and_note_and_bumps_the_version(buyer_api, buyer):
    response = buyer_api.patch(
        "/orders/current/",
        {"po_number": " PO-2026/17 ", "note": "Deliver to gate 4"},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["po_number"], body["note"], body["version"]) == (
        "PO-2026/17",
        "Deliver to gate 4",
        2,
    )
    assert response["ETag"] == '"2"'
    order = Order.objects.get(user=buyer)
    assert (order.status, order.po_number, order.note, order.version) == (
        "active",
        "PO-2026/17",
        "Deliver to gate 4",
        2,
    )


def test_patch_by_id_on_the_callers_active_order(buyer_api, buyer, product):
    order_id = cart_with(buyer_api, product)

    response = buyer_api.patch(f"/orders/{order_id}/", {"note": "Fragile"}, format="json")
    unchanged = buyer_api.patch(f"/orders/{order_id}/", {"note": "Fragile"}, format="json")

    assert response.status_code == 200
    assert (response.json()["note"], response.json()["po_number"]) == ("Fragile", "")
    assert unchanged.json()["version"] == response.json()["version"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"po_number": "x" * 36}, "po_number"),
        ({"po_number": "PO;DROP"}, "po_number"),
        ({"po_number": "PO\u00e9"}, "po_number"),
        ({"note": "n" * 1001}, "note"),
        ({"note": "bad\x00byte"}, "note"),
    ],
)
def test_invalid_references_are_400_and_change_nothing(buyer_api, buyer, body, field):
    response = buyer_api.patch("/orders/current/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Order.objects.filter(user=buyer).exclude(po_number="", note="").exists()


def test_another_users_order_cannot_be_patched(buyer_api, other_api, staff_api, product):
    order_id = cart_with(buyer_api, product)

    assert other_api.patch(f"/orders/{order_id}/", {"note": "x"}, format="json").status_code == 404
    assert staff_api.patch(f"/orders/{order_id}/", {"note": "x"}, format="json").status_code == 404
    assert Order.objects.get(pk=order_id).note == ""


def test_submit_body_sets_the_references_and_they_are_frozen_after(buyer_api, buyer, product):
    order_id = cart_with(buyer_api, product)

    submitted = buyer_api.post(
        f"/orders/{order_id}/submit/", {"po_number": "PO-1", "note": "Thanks"}, format="json"
    )
    frozen = buyer_api.patch(f"/orders/{order_id}/", {"po_number": "PO-2"}, format="json")

    assert submitted.status_code == 200
    assert (submitted.json()["po_number"], submitted.json()["note"]) == ("PO-1", "Thanks")
    assert frozen.status_code == 409
    assert frozen.json()["code"] == "order_frozen"
    assert Order.objects.get(pk=order_id).po_number == "PO-1"


def test_a_po_number_is_unique_among_a_buyers_submitted_orders(buyer_api, buyer, product):
    first = buyer_api.post(
        "/orders/",
        {"items": [{"product": product.pk, "quantity": 1}], "po_number": "PO-7"},
        format="json",
    )
    order_id = cart_with(buyer_api, product)

    duplicate = buyer_api.post(f"/orders/{order_id}/submit/", {"po_number": "PO-7"}, format="json")
    placed_again = buyer_api.post(
        "/orders/",
        {"items": [{"product": product.pk, "quantity": 1}], "po_number": "PO-7"},
        format="json",
    )

    assert first.status_code == 201
    assert duplicate.status_code == placed_again.status_code == 409
    for refused in (duplicate, placed_again):
        assert refused.json()["code"] == "duplicate_po_number"
        assert refused.json()["order"] == first.json()["id"]
    assert Order.objects.get(pk=order_id).status == "active"
    assert Order.objects.filter(po_number="PO-7").count() == 1
    product.refresh_from_db()
    assert product.quantity_in_stock == 9


def test_a_cancelled_order_frees_its_po_number_and_other_buyers_may_reuse_it(
    buyer_api, other_api, buyer, product
):
    items = {"items": [{"product": product.pk, "quantity": 1}], "po_number": "PO-9"}
    first = buyer_api.post("/orders/", items, format="json").json()
    other = other_api.post("/orders/", items, format="json")
    order_cancel(actor=buyer, order_id=first["id"])

    again = buyer_api.post("/orders/", items, format="json")

    assert other.status_code == again.status_code == 201
    assert Order.objects.filter(po_number="PO-9").count() == 3


def test_orders_show_the_buyer_and_staff_filter_by_user_and_po_number(
    buyer_api, other_api, staff_api, buyer, other_buyer, product
):
    items = [{"product": product.pk, "quantity": 1}]
    mine = buyer_api.post("/orders/", {"items": items, "po_number": "A-1"}, format="json").json()
    other_api.post("/orders/", {"items": items, "po_number": "B-1"}, format="json")

    everyone = staff_api.get("/orders/?all=true").json()["results"]
    by_user = staff_api.get(f"/orders/?user={mine['buyer']['id']}").json()["results"]
    by_po = staff_api.get("/orders/?all=true&po_number=A-1").json()["results"]
    own_po = other_api.get("/orders/?po_number=A-1").json()["results"]

    assert mine["buyer"] == {"id": buyer.pk, "username": "buyer"}
    assert {o["buyer"]["username"] for o in everyone} == {"buyer", "other"}
    assert [o["id"] for o in by_user] == [o["id"] for o in by_po] == [mine["id"]]
    assert own_po == []


def test_order_admin_shows_and_searches_po_numbers(admin_client, buyer_api, product):
    items = [{"product": product.pk, "quantity": 1}]
    order = buyer_api.post("/orders/", {"items": items, "po_number": "ACME-42"}, format="json")
    buyer_api.post("/orders/", {"items": items, "po_number": "OTHER-1"}, format="json")

    found = admin_client.get(reverse("admin:orders_order_changelist"), {"q": "ACME"})
    page = admin_client.get(reverse("admin:orders_order_change", args=[order.json()["id"]]))

    assert [o.pk for o in found.context["cl"].result_list] == [order.json()["id"]]
    assert "ACME-42" in page.content.decode()
