"""Storm: hundreds of buyers on several server processes race for too little stock."""

from __future__ import annotations

import pytest

from tests.servers import Database, ServerFarm, assert_sold_exactly, storm, summary

pytestmark = [pytest.mark.system, pytest.mark.postgres]

BUYERS = 500
STOCK = 100
SERVERS = 3


def test_storm_sells_exactly_the_stock_across_three_servers(
    postgres_database: Database, farm: ServerFarm
):
    servers = farm.start(postgres_database, count=SERVERS, workers=2)

    outcomes, elapsed = storm(postgres_database, servers, buyers=BUYERS, stock=STOCK, threads=48)

    summary("storm", outcomes, elapsed, servers=SERVERS, buyers=BUYERS, stock=STOCK)
    assert_sold_exactly(postgres_database, outcomes, stock=STOCK)
    assert all(server.alive for server in servers)
