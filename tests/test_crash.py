"""Crash: server processes SIGKILLed while submits are in flight leave no half-submitted order."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
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
    wait_for,
)

pytestmark = [pytest.mark.system, pytest.mark.postgres]

BUYERS = 240
STOCK = 1000
CART = [(0, 1), (1, 2), (2, 3), (3, 1)]  # (product index, quantity): four lines per order
KILL_AFTER = 40  # completed submits before the kill, so that many more are still in flight


def test_killed_servers_leave_every_order_submitted_or_untouched(
    postgres_database: Database, farm: ServerFarm
):
    data = seed(postgres_database, products=[("3.00", STOCK)] * 4, buyers=BUYERS, cart=CART)
    servers = farm.start(postgres_database, count=3, workers=2)
    doomed, wounded, healthy = servers
    killed_worker = min(wounded.worker_pids())
    completed = 0
    lock = threading.Lock()
    enough_done = threading.Event()

    def submit(url: str, order_id: int, token: str) -> Outcome:
        nonlocal completed
        outcome = call("POST", f"{url}/orders/{order_id}/submit/", token=token)
        with lock:
            completed += 1
            if completed >= KILL_AFTER:
                enough_done.set()
        return outcome

    def kill_mid_load() -> None:
        enough_done.wait(timeout=60)
        # The whole of one server (master and workers), and a single worker of another.
        doomed.kill()
        os.kill(killed_worker, signal.SIGKILL)

    killer = threading.Thread(target=kill_mid_load)
    killer.start()
    plan = [
        (servers[i % 3], order_id, token)
        for i, (order_id, token) in enumerate(zip(data.orders, data.tokens, strict=True))
    ]
    started = time.monotonic()
    outcomes = run_concurrently([partial(submit, s.url, o, t) for s, o, t in plan], threads=24)
    elapsed = time.monotonic() - started
    killer.join(timeout=30)

    lost = Counter(server.port for (server, _, _), o in zip(plan, outcomes, strict=True) if o.error)
    summary("crash", outcomes, elapsed, lost_by_port=dict(lost), killed=doomed.port)
    assert not doomed.alive
    assert {o.status for o in outcomes if not o.error} == {200}
    assert lost[doomed.port] > 0, "the kill should have cut requests still in flight"
    assert lost[healthy.port] == 0

    orders, stock = orders_state(postgres_database)
    statuses = Counter(assert_all_or_nothing(pk, order) for pk, order in orders.items())
    for (_, order_id, _), outcome in zip(plan, outcomes, strict=True):
        if outcome.status == 200:
            assert orders[order_id]["status"] == "submitted"
    for index, pk in enumerate(data.products):
        quantity = dict(CART)[index]
        assert stock[pk] == STOCK - quantity * statuses["submitted"]
    checked = postgres_database.check_stock()
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # The survivors keep serving: every order the crash left behind is submitted through them.
    assert wounded.alive
    assert wait_for(lambda: len(wounded.worker_pids()) == 2), "gunicorn replaces the worker"
    assert not wounded.worker_pids() & {killed_worker}
    retried = time.monotonic()
    leftovers = [
        (order_id, token)
        for (_, order_id, token), outcome in zip(plan, outcomes, strict=True)
        if outcome.status != 200
    ]
    retries = run_concurrently(
        [
            partial(call, "POST", f"{(wounded, healthy)[i % 2].url}/orders/{o}/submit/", token=t)
            for i, (o, t) in enumerate(leftovers)
        ],
        threads=8,
    )
    summary("crash-retry", retries, time.monotonic() - retried, leftovers=len(leftovers))
    # A request cut after its commit already submitted the order: its retry is a clean 409.
    assert {(o.status, o.code) for o in retries} <= {(200, None), (409, "order_not_active")}
    assert sum(o.status == 200 for o in retries) == statuses["active"]
    orders, stock = orders_state(postgres_database)
    assert Counter(assert_all_or_nothing(pk, order) for pk, order in orders.items()) == {
        "submitted": BUYERS
    }
    assert stock == {pk: STOCK - BUYERS * dict(CART)[i] for i, pk in enumerate(data.products)}
    checked = postgres_database.check_stock()
    assert checked.returncode == 0, checked.stdout + checked.stderr
