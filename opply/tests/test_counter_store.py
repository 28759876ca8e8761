"""The throttles' counter stores: one atomic hit per request, a window that ends, exact counts
under threads, expired rows purged. Every store the deployment can choose is exercised:
the SQLite side file always, Redis when one answers, PostgreSQL on the PostgreSQL run."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection

from opply import throttles
from opply.throttles import (
    CounterStore,
    DatabaseCounterStore,
    RedisCounterStore,
    SQLiteFileCounterStore,
    sqlite_counter_path,
)

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/4")


def redis_store() -> RedisCounterStore:
    import redis

    store = RedisCounterStore(REDIS_URL)
    try:
        store.client.ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {REDIS_URL} (TEST_REDIS_URL)")
    return store


@pytest.fixture(params=["sqlite-file", "redis", "database"])
def store(request, tmp_path: Path) -> Iterator[CounterStore]:
    if request.param == "sqlite-file":
        yield SQLiteFileCounterStore(str(tmp_path / "counters.sqlite3"))
    elif request.param == "redis":
        yield redis_store()
    else:
        if connection.vendor != "postgresql":
            pytest.skip("the database store serves PostgreSQL; SQLite counts in a side file")
        request.getfixturevalue("transactional_db")
        yield DatabaseCounterStore()


def key() -> str:
    return f"test-{uuid.uuid4().hex}:throttle:user:1"


def test_each_hit_returns_the_count_so_far_and_the_time_left(store):
    name = key()

    counts = [store.hit(name, 60) for _ in range(3)]

    assert [hits for hits, _ in counts] == [1, 2, 3]
    assert all(0 < remaining <= 60 for _, remaining in counts)


def test_keys_count_apart(store):
    first, second = key(), key()
    store.hit(first, 60)
    store.hit(first, 60)

    assert store.hit(second, 60)[0] == 1


def test_a_new_window_starts_after_the_last_one_ended(store):
    name = key()
    store.hit(name, 1)
    store.hit(name, 1)
    time.sleep(1.1)

    assert store.hit(name, 1)[0] == 1


def test_release_takes_back_one_hit(store):
    name = key()
    store.hit(name, 60)
    store.hit(name, 60)

    store.release(name)

    assert store.hit(name, 60)[0] == 2


def test_parallel_hits_each_get_a_count_of_their_own(store):
    name = key()

    def one_hit(_: int) -> int:
        try:
            return store.hit(name, 60)[0]
        finally:
            connection.close()  # each thread's own database connection

    with ThreadPoolExecutor(max_workers=16) as pool:
        counts = list(pool.map(one_hit, range(200)))

    assert sorted(counts) == list(range(1, 201))


def test_expired_windows_are_purged(tmp_path, monkeypatch):
    store = SQLiteFileCounterStore(str(tmp_path / "counters.sqlite3"))
    monkeypatch.setattr(throttles, "PURGE_EVERY", 5)
    store.hit("old", 1)
    time.sleep(1.1)

    for _ in range(4):
        store.hit("live", 60)

    assert store.execute(f"SELECT bucket FROM {throttles.TABLE}", []) == [("live",)]


def test_the_sqlite_default_counts_beside_the_main_file_not_in_it(settings):
    settings.THROTTLE_SQLITE_PATH = ""
    main = "/srv/opply/db.sqlite3"

    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(connection.settings_dict, "NAME", main)
        path = sqlite_counter_path()

    assert path == "/srv/opply/db-throttles.sqlite3"


def test_reading_an_entry_counts_the_hit_of_the_caller_it_names_on_the_same_counter():
    store = redis_store()
    prefix = f"test-{uuid.uuid4().hex}:user:"
    entry_key = f"{prefix}entry"
    store.client.set(entry_key, b"42|payload", ex=60)
    store.hit(f"{prefix}42", 60)

    entry, counted = store.read_and_hit(entry_key, prefix, 60)
    after = store.hit(f"{prefix}42", 60)

    assert entry == b"42|payload"
    assert counted is not None
    assert counted[0] == 2
    assert 0 < counted[1] <= 60
    assert after[0] == 3


@pytest.mark.parametrize(
    ("value", "period"), [(None, 60), (b"stale", 60), (b"42|payload", None), (b"42|payload", 0)]
)
def test_no_hit_is_counted_without_a_caller_or_a_period(value, period):
    store = redis_store()
    prefix = f"test-{uuid.uuid4().hex}:user:"
    if value is not None:
        store.client.set(f"{prefix}entry", value, ex=60)

    entry, counted = store.read_and_hit(f"{prefix}entry", prefix, period)

    assert entry == value
    assert counted is None
    assert store.client.get(f"{prefix}42") is None
