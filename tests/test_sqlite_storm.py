"""The storm on the embedded SQLite default: slower than PostgreSQL, never wrong."""

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

pytestmark = pytest.mark.system

BUYERS = 80
STOCK = 20


def test_sqlite_storm_sells_exactly_the_stock_without_database_is_locked(
    sqlite_database: Database, farm: ServerFarm
):
    data = seed(sqlite_database, products=[("4.20", STOCK)], buyers=BUYERS, cart=[(0, 1)])
    [server] = farm.start(sqlite_database, count=1, workers=3)
    [product] = data.products
    jobs = [
        partial(call, "POST", f"{server.url}/orders/{order_id}/submit/", token=token)
        for order_id, token in zip(data.orders, data.tokens, strict=True)
    ]

    started = time.monotonic()
    outcomes = run_concurrently(jobs, threads=32)
    elapsed = time.monotonic() - started

    summary("sqlite-storm", outcomes, elapsed, workers=3, buyers=BUYERS, stock=STOCK)
    assert [o.error for o in outcomes if o.error] == []
    assert Counter(o.status for o in outcomes) == {200: STOCK, 409: BUYERS - STOCK}
    assert {o.code for o in outcomes if o.status == 409} == {"insufficient_stock"}
    assert not [o for o in outcomes if "locked" in str(o.body)]
    assert "database is locked" not in server.log_text()
    orders, stock = orders_state(sqlite_database)
    assert stock == {product: 0}
    assert Counter(assert_all_or_nothing(pk, order) for pk, order in orders.items()) == {
        "submitted": STOCK,
        "active": BUYERS - STOCK,
    }
    checked = sqlite_database.check_stock()
    assert checked.returncode == 0, checked.stdout + checked.stderr
