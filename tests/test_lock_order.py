"""Lock order: the same products, added in opposite orders, submitted at the same time."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from functools import partial

import pytest

from tests.jobs import line_products_by_order
from tests.servers import (
    Database,
    Outcome,
    ServerFarm,
    assert_all_or_nothing,
    call,
    orders_state,
    run_concurrently,
    seed,
    summary,
)

pytestmark = [pytest.mark.system, pytest.mark.postgres]

BUYERS = 60
STOCKS = (50, 40, 30)  # the third product runs out first: 30 orders of one of each succeed


def _fill_cart(url: str, token: str, products: tuple[int, ...]) -> list[Outcome]:
    return [call("POST", f"{url}/products/{pk}/add_to_order/", token=token) for pk in products]


def test_opposite_lock_orders_neither_deadlock_nor_split_an_order(
    postgres_database: Database, farm: ServerFarm
):
    data = seed(postgres_database, products=[("1.00", s) for s in STOCKS], buyers=BUYERS)
    servers = farm.start(postgres_database, count=2, workers=2)
    orderings = list(itertools.permutations(data.products))
    plan = [
        (servers[i % 2].url, token, orderings[i % len(orderings)])
        for i, token in enumerate(data.tokens)
    ]
    carts = run_concurrently([partial(_fill_cart, *p) for p in plan], threads=16)
    assert {o.status for adds in carts for o in adds} == {200}
    cart_ids = [adds[-1].body["id"] for adds in carts]
    line_orders = postgres_database.run(line_products_by_order)
    assert {tuple(line_orders[str(pk)]) for pk in cart_ids} == set(orderings)

    # Every buyer submits the cart and, at the same time, places a second order naming the
    # same products in the reverse order: 120 transactions contend for the same three rows.
    jobs = []
    for (url, token, ordering), cart_id in zip(plan, cart_ids, strict=True):
        other_url = servers[1].url if url == servers[0].url else servers[0].url
        items = [{"product": pk, "quantity": 1} for pk in reversed(ordering)]
        jobs.append(partial(call, "POST", f"{url}/orders/{cart_id}/submit/", token=token))
        place = partial(call, "POST", f"{other_url}/orders/", token=token, json={"items": items})
        jobs.append(place)

    started = time.monotonic()
    outcomes = run_concurrently(jobs, threads=40)
    elapsed = time.monotonic() - started

    summary("lock-order", outcomes, elapsed, orders=len(jobs), products=len(STOCKS))
    assert [o.error for o in outcomes if o.error] == []
    succeeded = [o for o in outcomes if o.status in (200, 201)]
    refused = [o for o in outcomes if o.status == 409]
    assert len(succeeded) == min(STOCKS)
    assert len(refused) == len(jobs) - min(STOCKS)
    assert not [o for o in outcomes if o.status not in (200, 201, 409)]
    bottleneck = data.products[-1]
    assert all(
        o.body["code"] == "insufficient_stock"
        and o.body["lines"] == [{"product": bottleneck, "requested": 1, "available": 0}]
        for o in refused
    )
    assert all(
        sorted(item["product"] for item in o.body["items"]) == sorted(data.products)
        and o.body["status"] == "submitted"
        for o in succeeded
    )
    orders, stock = orders_state(postgres_database)
    assert stock == {pk: s - min(STOCKS) for pk, s in zip(data.products, STOCKS, strict=True)}
    statuses = Counter(assert_all_or_nothing(pk, order) for pk, order in orders.items())
    assert statuses["submitted"] == min(STOCKS)
    # A refused placement leaves no order behind; a refused cart stays an untouched cart.
    placed = sum(1 for o in succeeded if o.status == 201)
    assert statuses["active"] == BUYERS - (min(STOCKS) - placed)
    assert len(orders) == BUYERS + placed
    assert postgres_database.deadlocks() == 0
    checked = postgres_database.check_stock()
    assert checked.returncode == 0, checked.stdout + checked.stderr
