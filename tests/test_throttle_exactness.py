"""The per-user rate is exact under concurrency over several servers, on every store.

DRF's throttles read a caller's history, decide, then write it back: two servers that read
the same history both let their request through (at 30/min, 100 parallel requests over two
servers let 36 through with Redis and 48 with the database cache). The counter store counts
each request with one atomic increment, so exactly the rate passes; with Redis, after a
token's first request the increment rides in the script that reads the token's cached answer.
"""

from __future__ import annotations

from collections import Counter
from functools import partial

import pytest

from tests.servers import Database, ServerFarm, call, redis_env, run_concurrently, seed, summary

pytestmark = pytest.mark.system

RATE = 30
REQUESTS = 100


@pytest.mark.parametrize("store", ["database", "redis"])
def test_exactly_the_rate_passes_of_100_parallel_requests_over_two_servers(
    store: str, system_database: Database, farm: ServerFarm
):
    extra = redis_env() if store == "redis" else {}
    servers = farm.start(
        system_database, count=2, workers=3, THROTTLE_USER_RATE=f"{RATE}/min", **extra
    )
    data = seed(system_database, products=[("1.00", 5)], buyers=1)
    [token] = data.tokens
    jobs = [
        partial(call, "GET", f"{servers[i % 2].url}/products/", token=token)
        for i in range(REQUESTS)
    ]

    outcomes = run_concurrently(jobs, threads=50)

    summary(f"throttle-exact-{store}-{system_database.vendor}", outcomes, 0.0, rate=RATE)
    assert Counter(o.status for o in outcomes) == {200: RATE, 429: REQUESTS - RATE}
    refused = [o for o in outcomes if o.status == 429]
    assert {o.code for o in refused} == {"throttled"}
    assert all(1 <= int(o.headers["Retry-After"]) <= 60 for o in refused)
