"""Database outage: the connection to PostgreSQL is cut under load, then comes back.

A small TCP proxy in this test sits between the servers and PostgreSQL. Severing it closes
every open database connection and refuses new ones, as a database restart would; in
black-hole mode it accepts new connections and never answers, as a network partition
would (the servers' connect_timeout must end the wait); restoring it lets connections
through again.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from functools import partial
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.servers import (
    Database,
    Outcome,
    ServerFarm,
    assert_all_or_nothing,
    call,
    orders_state,
    postgres_url,
    run_concurrently,
    seed,
    summary,
    wait_for,
)

pytestmark = [pytest.mark.system, pytest.mark.postgres]

BUYERS = 150
HEALTHY_FIRST = 30  # submits that complete before the cut
SEVER_AFTER = 10  # completed submits of the second wave before the cut
STOCK = 1000


class Proxy:
    """Forwards 127.0.0.1:<port> to PostgreSQL until severed."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = int(self.listener.getsockname()[1])
        self.severed = threading.Event()
        self.black_hole = threading.Event()
        self.held: list[socket.socket] = []
        self.stopped = threading.Event()
        self.pairs: set[tuple[socket.socket, socket.socket]] = set()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            with self.lock:
                swallowed = self.black_hole.is_set()
                if swallowed:
                    self.held.append(client)
            if swallowed:
                continue
            if self.severed.is_set():
                _close(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _close(client)
                continue
            server.settimeout(None)
            pair = (client, server)
            with self.lock:
                # Checked under the lock that sever() takes, so no pair outlives a cut.
                cut = self.severed.is_set()
                if not cut:
                    self.pairs.add(pair)
            if cut:
                self._drop(pair)
                continue
            for source, target in (pair, pair[::-1]):
                threading.Thread(
                    target=self._pump, args=(source, target, pair), daemon=True
                ).start()

    def _pump(
        self,
        source: socket.socket,
        target: socket.socket,
        pair: tuple[socket.socket, socket.socket],
    ) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        self._drop(pair)

    def _drop(self, pair: tuple[socket.socket, socket.socket]) -> None:
        with self.lock:
            self.pairs.discard(pair)
        for end in pair:
            _close(end)

    def sever(self) -> None:
        with self.lock:
            self.severed.set()
            pairs = list(self.pairs)
        for pair in pairs:
            self._drop(pair)

    def swallow(self) -> None:
        """From now on accept connections and never answer them."""
        self.black_hole.set()

    def restore(self) -> None:
        with self.lock:
            self.black_hole.clear()
            self.severed.clear()
            held, self.held = self.held, []
        for end in held:
            _close(end)

    def stop(self) -> None:
        self.stopped.set()
        self.sever()
        self.restore()
        self.thread.join(timeout=5)
        self.listener.close()


def _close(end: socket.socket) -> None:
    with contextlib.suppress(OSError):
        end.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        end.close()


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    server = urlsplit(postgres_url() or "postgres://127.0.0.1:5432/")
    forwarder = Proxy((server.hostname or "127.0.0.1", server.port or 5432))
    try:
        yield forwarder
    finally:
        forwarder.stop()


def _through(database: Database, proxy: Proxy) -> str:
    parts = urlsplit(database.url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{proxy.port}" if credentials else f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _assert_unavailable(outcome: Outcome) -> None:
    assert outcome.status == 503, outcome
    assert outcome.content_type.startswith("application/json"), outcome
    assert outcome.code == "database_unavailable", outcome
    assert int(outcome.headers["Retry-After"]) > 0, outcome


def test_database_outage_answers_503_and_the_same_processes_recover(
    postgres_database: Database, proxy: Proxy, farm: ServerFarm
):
    data = seed(
        postgres_database, products=[("5.00", STOCK)] * 2, buyers=BUYERS, cart=[(0, 1), (1, 1)]
    )
    servers = farm.start(
        postgres_database, count=2, workers=2, database_url=_through(postgres_database, proxy)
    )
    workers_before = {server.port: server.worker_pids() for server in servers}
    buyers = list(zip(data.orders, data.tokens, strict=True))
    completed = 0
    lock = threading.Lock()
    cut = threading.Event()
    severed_at = 0.0
    cut_after = 0

    def submit(index: int) -> Outcome:
        nonlocal completed, severed_at, cut_after
        order_id, token = buyers[index]
        outcome = call(
            "POST",
            f"{servers[index % 2].url}/orders/{order_id}/submit/",
            token=token,
            headers={"Idempotency-Key": f"submit-{order_id}"},
        )
        with lock:
            completed += 1
            second_wave = index >= HEALTHY_FIRST
            if second_wave and completed >= HEALTHY_FIRST + SEVER_AFTER and not cut.is_set():
                proxy.sever()
                severed_at = time.monotonic()
                cut_after = completed
                cut.set()
        return outcome

    healthy = run_concurrently([partial(submit, i) for i in range(HEALTHY_FIRST)], threads=8)
    assert {o.status for o in healthy} == {200}

    started = time.monotonic()
    load = run_concurrently([partial(submit, i) for i in range(HEALTHY_FIRST, BUYERS)], threads=8)
    outage = time.monotonic() - started
    assert cut.is_set()

    probes = [call("GET", f"{s.url}/readyz") for s in servers for _ in range(4)]
    reads = [call("GET", f"{s.url}/products/", token=data.tokens[0]) for s in servers * 2]
    alive = [call("GET", f"{s.url}/healthz") for s in servers]
    orders_during, _ = orders_state(postgres_database)
    summary(
        "db-outage",
        load + probes + reads,
        outage,
        cut_after=cut_after,
        after_cut=sum(o.started > severed_at for o in load),
    )
    assert [o.error for o in load + probes + reads if o.error] == []
    assert {o.status for o in load} <= {200, 503}
    for outcome in load:
        if outcome.status == 503 or outcome.started > severed_at:
            _assert_unavailable(outcome)
    assert sum(o.status == 503 for o in load) >= BUYERS - HEALTHY_FIRST - SEVER_AFTER - 8
    for outcome in probes + reads:
        _assert_unavailable(outcome)
    assert {o.status for o in alive} == {200}
    for pk, order in orders_during.items():
        assert_all_or_nothing(pk, order)

    # A partition rather than a refusal: connecting hangs until connect_timeout gives up.
    proxy.swallow()
    partition_started = time.monotonic()
    unfinished = [i for i, o in enumerate(healthy + load) if o.status != 200]
    partitioned = run_concurrently(
        [partial(call, "GET", f"{s.url}/readyz") for s in servers]
        + [partial(submit, i) for i in unfinished[:2]],
        threads=4,
    )
    summary("db-partition", partitioned, time.monotonic() - partition_started, held=len(proxy.held))
    assert [o.error for o in partitioned if o.error] == []
    for outcome in partitioned:
        _assert_unavailable(outcome)

    proxy.restore()
    assert wait_for(
        lambda: all(call("GET", f"{s.url}/readyz").status == 200 for s in servers), within=30
    ), "servers did not recover after the database came back"
    recovered_at = time.monotonic()
    retries = run_concurrently([partial(submit, i) for i in unfinished], threads=8)
    summary("db-recovery", retries, time.monotonic() - recovered_at, retried=len(unfinished))
    # The same key: a submit whose commit was cut before its answer is replayed, not redone.
    assert {o.status for o in retries} == {200}
    assert all(server.alive for server in servers)
    assert {server.port: server.worker_pids() for server in servers} == workers_before
    orders, stock = orders_state(postgres_database)
    assert Counter(assert_all_or_nothing(pk, order) for pk, order in orders.items()) == {
        "submitted": BUYERS
    }
    assert stock == dict.fromkeys(data.products, STOCK - BUYERS)
    checked = postgres_database.check_stock()
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # A blip while the servers are idle (a database restart between two requests) kills
    # every persistent connection; the health check on first use replaces it unseen.
    proxy.sever()
    proxy.restore()
    after_blip = [
        call("GET", f"{s.url}/products/", token=data.tokens[0]) for s in servers for _ in range(8)
    ]
    summary("db-blip", after_blip, 0.0)
    assert [(o.status, o.code) for o in after_blip] == [(200, None)] * len(after_blip)
