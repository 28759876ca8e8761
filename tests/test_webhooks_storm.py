"""Webhooks under a storm: orders over three server processes, two workers (one SIGKILLed
mid-delivery), a receiver that refuses some first attempts; nothing lost, nothing invented."""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections import Counter, defaultdict
from functools import partial

import pytest
from standardwebhooks.webhooks import Webhook

from tests import jobs
from tests.receiver import Receiver, local_ports_of, receiving
from tests.servers import (
    WEBHOOK_TEST_ENV,
    Database,
    ServerFarm,
    WorkerPool,
    call,
    free_port,
    run_concurrently,
    seed,
    summary,
    wait_for,
)

pytestmark = pytest.mark.system

ORDERS = int(os.environ.get("WEBHOOK_STORM_ORDERS", "1000"))
BUYERS = 200
STOCK = ORDERS * 4 // 5
SERVERS = 3


def refuse_some_first_attempts(seen: int, request) -> int:
    """503 to the first attempt of every fifth event; 200 otherwise."""
    return 503 if seen == 0 and request.event["id"] % 5 == 0 else 200


def tail(url: str, token: str, seen: list[int], stop: threading.Event) -> None:
    cursor = 0
    while True:
        outcome = call("GET", f"{url}/events/", token=token, params={"after": cursor, "limit": 100})
        ids = [event["id"] for event in outcome.body["results"]] if outcome.status == 200 else []
        seen.extend(ids)
        cursor = ids[-1] if ids else cursor
        if not ids and stop.is_set():
            return
        if not ids:
            time.sleep(0.02)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0


def kill_one_worker_mid_delivery(receiver: Receiver, pool: WorkerPool, victim) -> set[str]:
    """Hold the receiver until the victim is inside a delivery, SIGKILL it, let go.
    Returns the webhook-ids the victim had in flight at that moment."""

    def victims_requests() -> set[str]:
        ports = local_ports_of(victim.pid)
        with receiver.lock:
            return {
                r.webhook_id for r in receiver.requests if r.status == 0 and r.client_port in ports
            }

    receiver.gate.clear()
    try:
        assert wait_for(lambda: bool(victims_requests()), within=30, every=0.01)
        in_flight = victims_requests()
        pool.kill(victim)
    finally:
        receiver.gate.set()
    return in_flight


def test_every_event_of_a_storm_is_delivered_signed_with_retries_and_a_killed_worker(
    system_database: Database, farm: ServerFarm, workers: WorkerPool
):
    with receiving(Receiver(answer=refuse_some_first_attempts)) as receiver:
        data = seed(system_database, products=[("9.99", STOCK)], buyers=BUYERS)
        staff_token = system_database.run(jobs.staff_token, username="hooks-admin")
        servers = farm.start(system_database, count=SERVERS, workers=2, **WEBHOOK_TEST_ENV)
        created = call(
            "POST", f"{servers[0].url}/webhooks/", token=staff_token, json={"url": receiver.url}
        )
        assert created.status == 201, created.body
        secret = created.body["secret"]
        victim, survivor = workers.start(system_database, count=2)
        followed: list[int] = []
        stop = threading.Event()
        follower = threading.Thread(target=tail, args=(servers[1].url, staff_token, followed, stop))
        follower.start()

        product = data.products[0]
        orders = [
            partial(
                call,
                "POST",
                f"{servers[i % SERVERS].url}/orders/",
                token=data.tokens[i % BUYERS],
                json={"items": [{"product": product, "quantity": 1}]},
            )
            for i in range(ORDERS)
        ]
        killer_result: list[set[str]] = []
        killer = threading.Thread(
            target=lambda: killer_result.append(
                kill_one_worker_mid_delivery(receiver, workers, victim)
            )
        )
        done = iter(range(ORDERS))

        def order_then_maybe_kill(order):
            outcome = order()
            if next(done) == ORDERS // 2:  # midway through the storm
                killer.start()
            return outcome

        started = time.monotonic()
        outcomes = run_concurrently([partial(order_then_maybe_kill, o) for o in orders], threads=24)
        storm_seconds = time.monotonic() - started
        killer.join(timeout=60)

        feed = system_database.run(jobs.event_feed)
        event_ids = {pk for pk, *_ in feed}
        delivered = wait_for(
            lambda: event_ids <= receiver.delivered_event_ids(), within=120, every=0.5
        )
        stop.set()
        follower.join(timeout=60)
        received = list(receiver.requests)

    # Orders: exactly the stock sold, one order.submitted per successful order, none else.
    assert [o.error for o in outcomes if o.error] == []
    assert Counter(o.status for o in outcomes) == {201: STOCK, 409: ORDERS - STOCK}
    sold = sorted(o.body["id"] for o in outcomes if o.status == 201)
    assert sorted(order for _, kind, _, order in feed if kind == "order.submitted") == sold
    checked = system_database.check_stock()
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # Every event delivered at least once, each successful receipt correctly signed.
    assert delivered, sorted(event_ids - receiver.delivered_event_ids())[:20]
    verifier = Webhook(secret)
    for request in received:
        assert verifier.verify(request.body, request.headers)["id"] == request.event["id"]
    by_id: dict[str, list] = defaultdict(list)
    for request in received:
        by_id[request.webhook_id].append(request)
    assert all(len({r.event["id"] for r in group}) == 1 for group in by_id.values())

    # Refused first attempts were retried with the same webhook-id.
    refused = [group for group in by_id.values() if group[0].status == 503]
    assert len(refused) == len([pk for pk in event_ids if pk % 5 == 0])
    assert all(any(r.status == 200 for r in group[1:]) for group in refused)

    # The deliveries the killed worker had in flight were sent again by the other worker.
    [in_flight] = killer_result
    assert in_flight
    assert victim.poll() is not None
    assert survivor.poll() is None
    assert all(len(by_id[webhook_id]) >= 2 for webhook_id in in_flight)

    # The follower saw every event once, in order.
    assert followed == sorted(event_ids)
    assert system_database.run(jobs.delivery_states) == {"succeeded": len(event_ids)}

    first_ok: dict[int, float] = {}
    for request in received:
        if request.status == 200:
            first_ok.setdefault(request.event["id"], request.at)
    # Commit to first receipt, for events neither refused on purpose nor caught in the kill.
    held = {by_id[w][0].event["id"] for w in in_flight}
    latencies = [
        first_ok[pk] - created_at
        for pk, _, created_at, _ in feed
        if pk % 5 and pk in first_ok and pk not in held
    ]
    summary(
        "webhooks-storm",
        outcomes,
        storm_seconds,
        events=len(event_ids),
        events_per_s=f"{len(event_ids) / storm_seconds:.0f}",
        receipts=len(received),
        latency_p50_ms=f"{percentile(latencies, 0.5) * 1000:.0f}",
        latency_p99_ms=f"{percentile(latencies, 0.99) * 1000:.0f}",
        latency_mean_ms=f"{statistics.fmean(latencies) * 1000:.0f}" if latencies else "-",
    )


def test_a_receiver_that_was_down_gets_the_event_once_it_is_back(
    system_database: Database, workers: WorkerPool
):
    port = free_port()
    url = f"http://127.0.0.1:{port}/hooks"
    system_database.run(jobs.webhook_endpoint_create, url=url)
    workers.start(system_database, count=1)
    system_database.run(jobs.product_create_one, name="Oats")
    assert wait_for(lambda: len(system_database.run(jobs.delivery_attempts)) >= 2, within=30)

    with receiving(port=port) as receiver:
        assert wait_for(lambda: len(receiver.succeeded()) == 1, within=30)
        assert wait_for(
            lambda: system_database.run(jobs.delivery_attempts)[-1][0] is True, within=30
        )

    attempts = system_database.run(jobs.delivery_attempts)
    assert attempts[-1][0] is True
    assert all(not ok and "Connection" in error for ok, error in attempts[:-1])
    assert receiver.succeeded()[0].event["type"] == "product.created"
