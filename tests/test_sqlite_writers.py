"""The embedded SQLite default under a writer that holds its one write lock.

A read never waits for the lock (throttle counters live in a file of their own); a write
that cannot get it in time is a JSON 503 `database_busy` with Retry-After, well before
gunicorn's worker timeout; a long import commits in batches so buyers write between them.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import (
    PYTHON,
    ROOT,
    Database,
    Outcome,
    ServerFarm,
    call,
    postgres_url,
    seed,
    summary,
)

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(
        postgres_url() is not None, reason="the embedded SQLite default: run by the SQLite run"
    ),
]

# The production throttles, as `make run` sets them.
THROTTLES: dict[str, Any] = {"THROTTLE_USER_RATE": "6000/min", "THROTTLE_ANON_RATE": "600/min"}


@contextlib.contextmanager
def write_lock_held(database: Database) -> Iterator[None]:
    """Another process's writer: SQLite's write lock on the main file until the block ends."""
    holder = sqlite3.connect(database.name, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_catalogue_read_answers_within_a_second_while_a_writer_holds_the_lock(
    sqlite_database: Database, farm: ServerFarm
):
    [server] = farm.start(sqlite_database, workers=2, **THROTTLES)
    data = seed(sqlite_database, products=[("2.50", 10)], buyers=1)
    [token] = data.tokens
    [product] = data.products

    with write_lock_held(sqlite_database):
        # A client timeout of 1 s: a read that waited for the lock is an error, not a 200.
        outcomes = [
            call("GET", f"{server.url}/products/", token=token, timeout=1),
            call("GET", f"{server.url}/products/{product}/", token=token, timeout=1),
            call("GET", f"{server.url}/orders/", token=token, timeout=1),
        ]

    summary("sqlite-read-under-write-lock", outcomes, 0.0)
    assert [(o.status, o.error) for o in outcomes] == [(200, None)] * 3
    assert outcomes[0].body["count"] == 1


def test_a_write_that_cannot_get_the_lock_is_a_json_503_database_busy_with_retry_after(
    sqlite_database: Database, farm: ServerFarm
):
    # A busy timeout of 1 s keeps the test short; the default (5 s) is checked against
    # gunicorn's worker timeout in opply/tests/test_deploy_settings.py.
    [server] = farm.start(sqlite_database, workers=2, SQLITE_BUSY_TIMEOUT="1", **THROTTLES)
    data = seed(sqlite_database, products=[("2.50", 10)], buyers=1)
    [token] = data.tokens
    [product] = data.products
    add = f"{server.url}/products/{product}/add_to_order/"

    with write_lock_held(sqlite_database):
        busy = call("POST", add, token=token, timeout=10)
    after = call("POST", add, token=token, timeout=10)

    summary("sqlite-write-under-write-lock", [busy, after], 0.0)
    assert (busy.status, busy.error, busy.code) == (503, None, "database_busy")
    assert busy.content_type == "application/json"
    assert busy.headers["Retry-After"].isdigit()
    assert busy.headers["X-Request-ID"] == busy.body["request_id"]
    assert after.status == 200
    assert after.body["items"][0]["quantity"] == 1
    assert "WORKER TIMEOUT" not in server.log_text()


IMPORT_ROWS = 20_000


def test_buyers_write_between_the_batches_of_a_long_import(
    sqlite_database: Database, farm: ServerFarm, tmp_path: Path
):
    [server] = farm.start(sqlite_database, workers=2, SQLITE_BUSY_TIMEOUT="1", **THROTTLES)
    data = seed(sqlite_database, products=[("2.50", 1000)], buyers=1)
    [token] = data.tokens
    [product] = data.products
    csv = tmp_path / "catalogue.csv"
    lines = ["sku,name,price,quantity_in_stock"]
    lines += [f"SKU-{n:06d},Imported {n},1.00,{n % 50}" for n in range(IMPORT_ROWS)]
    csv.write_text("\n".join(lines) + "\n")

    importer = subprocess.Popen(
        [PYTHON, "manage.py", "import_products", str(csv), "--no-progress", "--batch-size", "500"],
        cwd=ROOT,
        env=sqlite_database.env(SQLITE_BUSY_TIMEOUT="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    outcomes: list[Outcome] = []
    done = threading.Event()

    def wait_for_import() -> None:
        importer.wait(timeout=120)
        done.set()

    threading.Thread(target=wait_for_import, daemon=True).start()
    while not done.is_set() and len(outcomes) < 400:
        outcomes.append(
            call("POST", f"{server.url}/products/{product}/add_to_order/", token=token, timeout=10)
        )
    out, err = importer.communicate(timeout=120)

    summary("sqlite-writes-during-import", outcomes, 0.0, rows=IMPORT_ROWS)
    assert importer.returncode == 0, err
    assert f"Imported {IMPORT_ROWS} row(s): {IMPORT_ROWS} created" in out
    assert len(outcomes) >= 5  # the import lasted long enough to be written through
    assert Counter(o.status for o in outcomes) == {200: len(outcomes)}
    assert outcomes[-1].body["items"][0]["quantity"] == len(outcomes)
