"""An order history page without filter input is read by prepared statements of the
queryset the FilterSet gives it: the same answer, byte for byte, by the same statements, as
when every request went through the FilterSet; still only the caller's own orders."""

from decimal import Decimal

import pytest

from opply.tests.unfiltered import assert_answers_as_through_the_filter_set, filter_sets_built
from orders.filters import OrderFilter
from orders.services import order_add_item, order_place
from products.services import product_create

pytestmark = pytest.mark.django_db

QUERIES = [
    "",
    "?page=2",
    "?page_size=2",
    "?page_size=2&page=2",
    "?page_size=3&page=2",
    "?tag=unknown",
    "?page=99",
    "?page=abc",
]


@pytest.fixture
def history(buyer, other_buyer, staff):
    oats = product_create(actor=None, name="Oats", price=Decimal("1.25"), quantity_in_stock=1_000)
    rye = product_create(actor=None, name="Rye", price=Decimal("3.10"), quantity_in_stock=1_000)
    for n in range(4):
        order_place(user=buyer, items=[{"product": oats.pk, "quantity": n + 1}])
    order_place(
        user=other_buyer,
        items=[{"product": oats.pk, "quantity": 2}, {"product": rye.pk, "quantity": 5}],
    )
    order_place(user=staff, items=[{"product": rye.pk, "quantity": 1}])
    order_add_item(user=buyer, product_id=rye.pk, quantity=3)


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("caller", ["buyer_api", "other_api", "staff_api"])
def test_a_page_without_filter_input_answers_as_through_the_filter_set(
    request, monkeypatch, history, caller, query
):
    client = request.getfixturevalue(caller)

    assert_answers_as_through_the_filter_set(monkeypatch, client, f"/orders/{query}")


def test_callers_in_turn_each_see_only_their_own_orders(
    buyer_api, other_api, staff_api, buyer, other_buyer, staff, history
):
    for _ in range(2):
        for client, user, count in [(buyer_api, buyer, 5), (other_api, other_buyer, 1)]:
            body = client.get("/orders/").json()
            assert body["count"] == count
            assert {order["buyer"]["id"] for order in body["results"]} == {user.pk}
        # staff too: their own orders unless they ask for all
        body = staff_api.get("/orders/").json()
        assert body["count"] == 1
        assert body["results"][0]["buyer"]["id"] == staff.pk
        assert staff_api.get("/orders/?all=true").json()["count"] == 7


def test_the_filter_set_is_built_only_for_filter_input(monkeypatch, buyer_api, history):
    buyer_api.get("/orders/")  # the prepared statements are built through it once
    built = filter_sets_built(monkeypatch, OrderFilter)

    assert buyer_api.get("/orders/?page_size=2&page=2").status_code == 200
    assert built == []
    assert buyer_api.get("/orders/?status=submitted").json()["count"] == 4
    assert buyer_api.get("/orders/?status=shipped").status_code == 400
    assert len(built) == 2
