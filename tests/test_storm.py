"""Storm: hundreds of buyers on several server processes race for too little stock."""

from __future__ import annotations

import time
from collections import Counter
from functools import partial

import pytest

from tests.servers import (
    Database,
    ServerFarm,
    assert_all_or_nothing,
    call,
    orders_state,
    run_concurrently,
    seed,
    summary,
)

pytestmark = [pytest.mark.system, pytest.mark.postgres]

BUYERS = 500
STOCK = 100
SERVERS = 3


def test_storm_sells_exactly_the_stock_across_three_servers(
    postgres_database: Database, farm: ServerFarm
):
    data = seed(postgres_database, products=[("9.99", STOCK)], buyers=BUYERS, cart=[(0, 1)])
    servers = farm.start(postgres_database, count=SERVERS, workers=2)
    [product] = data.products
    jobs = [
        partial(
            call,
            "POST",
            f"{servers[i % SERVERS].url}/orders/{order_id}/submit/",
            token=token,
        )
        for i, (order_id, token) in enumerate(zip(data.orders, data.tokens, strict=True))
    ]

    started = time.monotonic()
    outcomes = run_concurrently(jobs, threads=48)
    elapsed = time.monotonic() - started

    summary("storm", outcomes, elapsed, servers=SERVERS, buyers=BUYERS, stock=STOCK)
    assert [o.error for o in outcomes if o.error] == []
    statuses = Counter(o.status for o in outcomes)
    assert statuses == {200: STOCK, 409: BUYERS - STOCK}
    sold = [o.body for o in outcomes if o.status == 200]
    assert all(body["status"] == "submitted" for body in sold)
    assert all(body["items"][0]["quantity"] == 1 for body in sold)
    refused = [o.body for o in outcomes if o.status == 409]
    assert {body["code"] for body in refused} == {"insufficient_stock"}
    assert all(
        body["lines"] == [{"product": product, "requested": 1, "available": 0}] for body in refused
    )
    orders, stock = orders_state(postgres_database)
    assert stock == {product: 0}
    assert Counter(assert_all_or_nothing(pk, order) for pk, order in orders.items()) == {
        "submitted": STOCK,
        "active": BUYERS - STOCK,
    }
    submitted_ids = {o.body["id"] for o in outcomes if o.status == 200}
    assert submitted_ids == {pk for pk, order in orders.items() if order["status"] == "submitted"}
    checked = postgres_database.check_stock()
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert all(server.alive for server in servers)
