"""The storm on the embedded SQLite default: slower than PostgreSQL, never wrong."""

from __future__ import annotations

import pytest

from tests.servers import Database, ServerFarm, assert_sold_exactly, storm, summary

pytestmark = pytest.mark.system

BUYERS = 100
STOCK = 20
WORKERS = 3


def test_sqlite_storm_sells_exactly_the_stock_without_database_is_locked(
    sqlite_database: Database, farm: ServerFarm
):
    # The production defaults: throttles on, their counters in the database cache table.
    [server] = farm.start(
        sqlite_database,
        count=1,
        workers=WORKERS,
        THROTTLE_USER_RATE="6000/min",
        THROTTLE_ANON_RATE="600/min",
    )

    outcomes, elapsed = storm(sqlite_database, [server], buyers=BUYERS, stock=STOCK, threads=32)

    summary("sqlite-storm", outcomes, elapsed, workers=WORKERS, buyers=BUYERS, stock=STOCK)
    assert_sold_exactly(sqlite_database, outcomes, stock=STOCK)
    assert "database is locked" not in server.log_text()
    assert server.alive
