"""The seed README's flow, end to end through the API."""

import pytest

from orders.models import Order
from products.models import Product, StockMovement

pytestmark = pytest.mark.django_db


def test_seed_flow_submits_the_cart_and_decrements_stock(staff_api):
    created = [
        staff_api.post(
            "/products/", {"name": "Product 1", "price": "11.11", "quantity_in_stock": 10}
        ),
        staff_api.post(
            "/products/", {"name": "Product 2", "price": "22.22", "quantity_in_stock": 20}
        ),
    ]
    assert [r.status_code for r in created] == [201, 201]
    first, second = (r.json()["id"] for r in created)

    assert staff_api.get("/products/").json()["count"] == 2
    assert staff_api.post(f"/products/{first}/add_to_order/").status_code == 200
    assert staff_api.post(f"/products/{first}/add_to_order/").status_code == 200
    cart = staff_api.post(f"/products/{second}/add_to_order/").json()
    assert staff_api.post(f"/products/{first}/remove_from_order/").status_code == 200

    submitted = staff_api.post(f"/orders/{cart['id']}/submit/")

    assert submitted.status_code == 200
    body = submitted.json()
    assert body["status"] == "submitted"
    assert body["total_amount"] == "33.33"
    assert [(i["product"], i["quantity"], i["unit_price"]) for i in body["items"]] == [
        (first, 1, "11.11"),
        (second, 1, "22.22"),
    ]
    assert Product.objects.get(pk=first).quantity_in_stock == 9
    assert Product.objects.get(pk=second).quantity_in_stock == 19
    assert StockMovement.objects.filter(order_id=cart["id"], reason="submit").count() == 2
    history = staff_api.get("/orders/").json()
    assert [o["id"] for o in history["results"]] == [cart["id"]]
    current = staff_api.get("/orders/current/").json()
    assert current["status"] == "active"
    assert current["id"] != cart["id"]
    assert Order.objects.filter(status="active").count() == 1
