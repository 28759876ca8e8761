"""Races the database must settle (docs/b2b.md): one PO number submitted many times at
once by one buyer, and many `If-Match` writers holding the same version of one product and
one cart. Real gunicorn processes on PostgreSQL, real transactions."""

from __future__ import annotations

import time
from collections import Counter
from functools import partial

import pytest

from tests import jobs
from tests.servers import Database, ServerFarm, call, run_concurrently, seed, summary

pytestmark = [pytest.mark.system, pytest.mark.postgres]

BUYERS = 8
ATTEMPTS = 6  # per buyer: the cart's submit and five one-shot orders, all with one PO number
WRITERS = 16


def test_concurrent_submits_with_one_po_number_leave_exactly_one_order(
    postgres_database: Database, farm: ServerFarm
):
    data = seed(
        postgres_database, products=[("2.00", 1000)], buyers=BUYERS, cart=[(0, 1)], prefix="po"
    )
    servers = farm.start(postgres_database, count=2, workers=2)
    product = data.products[0]
    body = {"po_number": "PO-RACE-1"}
    attempts = []
    for index, (token, cart) in enumerate(zip(data.tokens, data.orders, strict=True)):
        url = servers[index % 2].url
        attempts.append(
            partial(call, "POST", f"{url}/orders/{cart}/submit/", token=token, json=body)
        )
        for attempt in range(ATTEMPTS - 1):
            other = servers[(index + attempt + 1) % 2].url
            place = {**body, "items": [{"product": product, "quantity": 1}]}
            attempts.append(partial(call, "POST", f"{other}/orders/", token=token, json=place))

    started = time.monotonic()
    outcomes = run_concurrently(attempts, threads=24)
    summary("po-race", outcomes, time.monotonic() - started, buyers=BUYERS, attempts=ATTEMPTS)

    assert [o.error for o in outcomes if o.error] == []
    won = [o.body for o in outcomes if o.status in (200, 201)]
    refused = [o.body for o in outcomes if o.status == 409]
    assert len(won) == BUYERS
    assert len(refused) == BUYERS * (ATTEMPTS - 1)
    assert {o.status for o in outcomes} <= {200, 201, 409}
    winner_of = {body["buyer"]["id"]: body["id"] for body in won}
    assert len(winner_of) == BUYERS
    assert {body["code"] for body in refused} == {"duplicate_po_number"}
    state = postgres_database.run(jobs.po_number_holders, po_number="PO-RACE-1")
    assert sorted(tuple(pair) for pair in state["orders"]) == sorted(winner_of.items())
    assert state["stock"] == 1000 - BUYERS
    assert postgres_database.check_stock().returncode == 0


def test_concurrent_if_match_writers_let_exactly_one_through(
    postgres_database: Database, farm: ServerFarm
):
    data = seed(postgres_database, products=[("1.00", 50)], buyers=2, cart=[(0, 1)], prefix="im")
    postgres_database.run(jobs.make_staff, username="im00000")
    staff, buyer = data.tokens
    product, cart = data.products[0], data.orders[1]
    servers = farm.start(postgres_database, count=2, workers=2)
    cart_version = call("GET", f"{servers[0].url}/orders/{cart}/", token=buyer).headers["ETag"]
    product_jobs = [
        partial(
            call,
            "PATCH",
            f"{servers[i % 2].url}/products/{product}/",
            token=staff,
            json={"price": f"{i + 2}.00"},
            headers={"If-Match": '"1"'},
        )
        for i in range(WRITERS)
    ]
    cart_jobs = [
        partial(
            call,
            "POST",
            f"{servers[i % 2].url}/products/{product}/add_to_order/",
            token=buyer,
            headers={"If-Match": cart_version},
        )
        for i in range(WRITERS)
    ]

    started = time.monotonic()
    outcomes = run_concurrently(product_jobs + cart_jobs, threads=24)
    summary("if-match-race", outcomes, time.monotonic() - started, writers=2 * WRITERS)

    assert [o.error for o in outcomes if o.error] == []
    for group in (outcomes[:WRITERS], outcomes[WRITERS:]):
        assert Counter(o.status for o in group) == {200: 1, 412: WRITERS - 1}
        refused = [o.body for o in group if o.status == 412]
        assert {body["code"] for body in refused} == {"precondition_failed"}
    [patched] = [o.body for o in outcomes[:WRITERS] if o.status == 200]
    [added] = [o.body for o in outcomes[WRITERS:] if o.status == 200]
    current = postgres_database.run(jobs.product_and_cart, product=product, cart=cart)
    assert current == [patched["price"], 2, added["version"], 2]
    assert {o.body["current_version"] for o in outcomes[:WRITERS] if o.status == 412} == {2}
