"""A revoked token is refused at once by every worker of every server, whether the token is
read from the database on each request or its answer is cached in Redis beside the
throttle counters (accounts/token_cache.py)."""

from __future__ import annotations

import pytest

from tests.servers import Database, ServerFarm, call, redis_env, seed

pytestmark = pytest.mark.system

REQUESTS_PER_SERVER = 12  # more than the workers' threads, so every worker answers


@pytest.mark.parametrize("store", ["database", "redis"])
def test_a_revoked_token_is_refused_at_once_by_every_server(
    store: str, system_database: Database, farm: ServerFarm
):
    extra = redis_env() if store == "redis" else {}
    servers = farm.start(system_database, count=2, workers=2, **extra)
    [token] = seed(system_database, products=[("1.00", 5)], buyers=1).tokens
    urls = [server.url for server in servers for _ in range(REQUESTS_PER_SERVER)]
    assert {call("GET", f"{url}/orders/", token=token).status for url in urls} == {200}

    revoked = call("DELETE", f"{servers[0].url}/token/", token=token)
    after = [call("GET", f"{url}/orders/", token=token) for url in urls]

    assert revoked.status == 204
    assert {(o.status, o.body["code"]) for o in after} == {(401, "authentication_failed")}
