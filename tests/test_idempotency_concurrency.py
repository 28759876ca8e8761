"""Idempotency under concurrency: one key, twenty simultaneous submits, one effect."""

from __future__ import annotations

import threading
import time
import uuid
from functools import partial

import pytest

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

pytestmark = pytest.mark.system

DUPLICATES = 20


def test_twenty_concurrent_submits_with_one_key_submit_once_and_replay_after(
    system_database: Database, farm: ServerFarm
):
    data = seed(system_database, products=[("2.50", 10)], buyers=2, cart=[(0, 2)])
    servers = farm.start(system_database, count=2, workers=2)
    [product] = data.products
    order_id, other_order_id = data.orders
    token, other_token = data.tokens
    key = f"submit-{uuid.uuid4()}"
    gate = threading.Barrier(DUPLICATES, timeout=30)

    def submit(i: int) -> Outcome:
        gate.wait()
        return call(
            "POST",
            f"{servers[i % 2].url}/orders/{order_id}/submit/",
            token=token,
            headers={"Idempotency-Key": key},
        )

    started = time.monotonic()
    outcomes = run_concurrently([partial(submit, i) for i in range(DUPLICATES)], threads=DUPLICATES)
    elapsed = time.monotonic() - started

    assert [o.error for o in outcomes if o.error] == []
    originals = [o for o in outcomes if o.status == 200 and "Idempotent-Replayed" not in o.headers]
    replays = [o for o in outcomes if o.status == 200 and "Idempotent-Replayed" in o.headers]
    in_progress = [o for o in outcomes if o.status == 409]
    summary(
        "idempotency",
        outcomes,
        elapsed,
        database=system_database.vendor,
        originals=len(originals),
        replays=len(replays),
        in_progress=len(in_progress),
    )
    assert len(originals) == 1
    assert len(originals) + len(replays) + len(in_progress) == DUPLICATES
    [original] = originals
    assert original.body["status"] == "submitted"
    assert original.body["id"] == order_id
    assert all(o.body == original.body for o in replays)
    assert all(o.body["code"] == "idempotency_in_progress" for o in in_progress)

    retries = [
        call(
            "POST",
            f"{server.url}/orders/{order_id}/submit/",
            token=token,
            headers={"Idempotency-Key": key},
        )
        for server in servers * 2
    ]
    assert [(o.status, o.headers.get("Idempotent-Replayed")) for o in retries] == [
        (200, "true")
    ] * 4
    assert all(o.body == original.body for o in retries)

    elsewhere = call(
        "POST",
        f"{servers[0].url}/products/{product}/add_to_order/",
        token=token,
        headers={"Idempotency-Key": key},
    )
    other_body = call(
        "POST",
        f"{servers[1].url}/orders/{order_id}/submit/",
        token=token,
        headers={"Idempotency-Key": key},
        json={"note": "a different body"},
    )
    assert (elsewhere.status, elsewhere.code) == (422, "idempotency_key_reused")
    assert (other_body.status, other_body.code) == (422, "idempotency_key_reused")
    # Keys are per user: another buyer's request with the same key is a request of its own.
    someone_else = call(
        "POST",
        f"{servers[0].url}/orders/{other_order_id}/submit/",
        token=other_token,
        headers={"Idempotency-Key": key},
    )
    assert someone_else.status == 200
    assert "Idempotent-Replayed" not in someone_else.headers
    assert someone_else.body["id"] == other_order_id

    orders, stock = orders_state(system_database)
    assert stock == {product: 10 - 2 - 2}
    assert {pk: assert_all_or_nothing(pk, order) for pk, order in orders.items()} == {
        order_id: "submitted",
        other_order_id: "submitted",
    }
    assert orders[order_id]["movements"] == {product: [["submit", -2]]}
    checked = system_database.check_stock()
    assert checked.returncode == 0, checked.stdout + checked.stderr
