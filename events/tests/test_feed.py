"""GET /events/: staff see all, a buyer the events of their own orders; cursor, types, limit."""

from __future__ import annotations

import pytest

from events.models import Event
from orders import services as orders
from products.tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(buyer, other_buyer):
    product = ProductFactory(quantity_in_stock=10)
    mine = orders.order_place(user=buyer, items=[{"product": product.pk, "quantity": 1}])
    theirs = orders.order_place(user=other_buyer, items=[{"product": product.pk, "quantity": 1}])
    return mine, theirs


def test_staff_read_every_event_oldest_first(staff_api, history):
    response = staff_api.get("/events/", {"limit": 100})

    assert response.status_code == 200
    body = response.json()
    ids = [event["id"] for event in body["results"]]
    assert ids == sorted(Event.objects.values_list("pk", flat=True))
    assert body["has_more"] is False
    assert set(body["results"][0]) == {"id", "type", "created_at", "data"}


def test_a_buyer_reads_only_the_events_of_their_own_orders(buyer_api, other_api, history):
    mine, theirs = history

    body = buyer_api.get("/events/").json()

    assert [(e["type"], e["data"]["id"]) for e in body["results"]] == [("order.submitted", mine.pk)]
    theirs_event = Event.objects.get(type="order.submitted", buyer_id=theirs.user_id)
    assert buyer_api.get(f"/events/{theirs_event.pk}/").status_code == 404
    assert other_api.get(f"/events/{theirs_event.pk}/").json()["data"]["id"] == theirs.pk


def test_after_type_and_limit_page_through_the_feed(staff_api, history):
    every = list(Event.objects.order_by("pk").values_list("pk", "type"))

    first = staff_api.get("/events/", {"limit": 2}).json()
    second = staff_api.get(first["next"]).json()
    stock = staff_api.get("/events/", {"type": "product.stock_changed,order.cancelled"}).json()

    assert [e["id"] for e in first["results"]] == [pk for pk, _ in every[:2]]
    assert first["has_more"] is True
    assert [e["id"] for e in second["results"]] == [pk for pk, _ in every[2:4]]
    assert [e["id"] for e in stock["results"]] == [
        pk for pk, kind in every if kind == "product.stock_changed"
    ]


def test_the_cursor_of_an_empty_page_stays_where_it_was(staff_api, history):
    last = Event.objects.order_by("-pk").first()

    body = staff_api.get("/events/", {"after": last.pk}).json()

    assert body["results"] == []
    assert body["has_more"] is False
    assert f"after={last.pk}" in body["next"]


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 101}, {"after": -1}, {"type": "order.exploded"}, {"after": "x"}],
)
def test_bad_parameters_are_400(staff_api, params):
    response = staff_api.get("/events/", params)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_the_feed_needs_a_token(api):
    assert api.get("/events/").status_code == 401
