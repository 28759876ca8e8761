"""Request throttles over an atomic counter store shared by every server process.

DRF's own throttles keep a list of timestamps in the cache and write it back after reading
it: two servers that read the same list both let their request through, so a limit of 30
let 36 (Redis) or 48 (database cache) of 100 parallel requests through. Here each request
is one atomic increment that returns the new count, in one round trip:

- Redis (REDIS_URL set): one Lua script (EVALSHA): `INCR`, and `PEXPIRE` on the first hit.
  A token request's hit rides in the round trip that reads the token's cached answer
  (`RedisCounterStore.read_and_hit`, accounts/token_cache.py), so it asks Redis once.
- PostgreSQL: one `INSERT ... ON CONFLICT DO UPDATE ... RETURNING` on `opply_throttlecounter`
  (an UNLOGGED table: no WAL flush per request; a database crash empties it).
- Embedded SQLite: the same statement on a table in a file of its own beside the main
  database (`<name>-throttles.sqlite3`, THROTTLE_SQLITE_PATH), so counting never takes the
  main database's write lock and a read never waits behind a writer for its counter.

Windows are fixed and start with a caller's first request: `rate` hits are allowed in the
`period` seconds that follow it, and the 429's Retry-After is the time left in that window.
A caller can therefore spend at most twice the rate across the edge of two windows; within
one window the limit is exact, however many servers count.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings
from django.db import OperationalError, connection
from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

if TYPE_CHECKING:
    from rest_framework.views import APIView


class CounterStore(Protocol):
    def hit(self, key: str, period: int) -> tuple[int, float]:
        """Count one hit on `key` in its current window of `period` seconds (a new window
        starts with the first hit after the last one ended); return the hits counted in the
        window so far, this one included, and the seconds until the window ends."""

    def release(self, key: str) -> None:
        """Take back one hit on `key` (an attempt that turned out not to count)."""


# --- Redis ------------------------------------------------------------------------------


class RedisCounterStore:
    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self._hit = self.client.register_script(_REDIS_HIT)
        self._release = self.client.register_script(_REDIS_RELEASE)
        self._read_and_hit = self.client.register_script(_REDIS_READ_AND_HIT)

    def hit(self, key: str, period: int) -> tuple[int, float]:
        hits, ttl_ms = self._hit(keys=[key], args=[period * 1000])
        return int(hits), max(int(ttl_ms), 0) / 1000

    def release(self, key: str) -> None:
        self._release(keys=[key])

    def read_and_hit(
        self, entry_key: str, counter_prefix: str, period: int | None
    ) -> tuple[bytes | None, tuple[int, float] | None]:
        """Read the entry at `entry_key` and, in the same round trip, count one hit for the
        caller it names: an entry `b"<caller id>|..."` counts on `counter_prefix + id` as
        `hit()` would. Returns the entry (None if absent) and (hits, seconds left) when a hit
        was counted; no hit without a period or for an entry that names no caller.

        The counter's key is built inside the script, so the store must be one Redis (not
        a cluster, where every key a script touches must be declared)."""
        reply = self._read_and_hit(keys=[entry_key], args=[counter_prefix, (period or 0) * 1000])
        if not reply:
            return None, None
        if len(reply) == 1:
            return reply[0], None
        entry, hits, ttl_ms = reply
        return entry, (int(hits), max(int(ttl_ms), 0) / 1000)


# One EVALSHA per hit: the count and the time left in its window, the window starting with
# the first hit (a key without an expiry, which nothing should leave, gets one too).
_REDIS_COUNT = """
local function count(key, period_ms)
    local hits = redis.call('INCR', key)
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then
        redis.call('PEXPIRE', key, period_ms)
        ttl = tonumber(period_ms)
    end
    return {hits, ttl}
end
"""
_REDIS_HIT = _REDIS_COUNT + "return count(KEYS[1], ARGV[1])"
# An entry and, if it starts with a caller's id and a period is given, that caller's hit.
_REDIS_READ_AND_HIT = (
    _REDIS_COUNT
    + """
local entry = redis.call('GET', KEYS[1])
if not entry then return {} end
local caller = string.match(entry, '^(%d+)|')
if not caller or tonumber(ARGV[2]) <= 0 then return {entry} end
local counted = count(ARGV[1] .. caller, ARGV[2])
return {entry, counted[1], counted[2]}
"""
)
# DECR on a key that expired meanwhile would create one without an expiry.
_REDIS_RELEASE = "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('DECR', KEYS[1]) end"


# --- SQL (PostgreSQL table, or a SQLite file of its own) --------------------------------

TABLE = "opply_throttlecounter"

_HIT = f"""
INSERT INTO {TABLE} (bucket, hits, window_ends) VALUES (%s, 1, %s)
ON CONFLICT (bucket) DO UPDATE SET
    hits = CASE WHEN {TABLE}.window_ends <= %s THEN 1 ELSE {TABLE}.hits + 1 END,
    window_ends = CASE WHEN {TABLE}.window_ends <= %s
        THEN excluded.window_ends ELSE {TABLE}.window_ends END
RETURNING hits, window_ends
"""  # noqa: S608 - the table name is a constant
_RELEASE = f"UPDATE {TABLE} SET hits = hits - 1 WHERE bucket = %s AND hits > 0"  # noqa: S608
_PURGE = f"DELETE FROM {TABLE} WHERE window_ends < %s"  # noqa: S608
_CREATE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    bucket VARCHAR(200) NOT NULL PRIMARY KEY,
    hits INTEGER NOT NULL,
    window_ends DOUBLE PRECISION NOT NULL
)
"""
# Expired rows are deleted by every this many hits of a process: the table stays about
# as large as the number of callers active within one period.
PURGE_EVERY = 1000


class _SQLCounterStore:
    def __init__(self) -> None:
        self._hits = itertools.count(1)

    def execute(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def hit(self, key: str, period: int) -> tuple[int, float]:
        now = time.time()
        if next(self._hits) % PURGE_EVERY == 0:
            self.execute(_PURGE, [now])
        [(hits, window_ends)] = self.execute(_HIT, [key, now + period, now, now])
        return int(hits), max(float(window_ends) - now, 0.0)

    def release(self, key: str) -> None:
        self.execute(_RELEASE, [key])


class DatabaseCounterStore(_SQLCounterStore):
    """The main database (PostgreSQL): each statement commits on its own unless the request
    is inside a transaction already."""

    def execute(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall()) if cursor.description else []


class SQLiteFileCounterStore(_SQLCounterStore):
    """A SQLite file of its own, one connection per thread, in autocommit mode."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = sqlite3.connect(self.path, timeout=5, isolation_level=None)
            # Counters are worth less than a durable write: WAL without fsync per commit.
            # Switching a new file to WAL does not wait for the busy timeout when another
            # process is doing the same at that moment: retry for as long.
            for attempt in itertools.count():
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    break
                except sqlite3.OperationalError:
                    if attempt >= 100:
                        raise
                    time.sleep(0.05)
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute(_CREATE)
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def execute(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        try:
            conn = self._connection()
            # The write lock up front, waiting for it as long as the busy timeout: an
            # implicit transaction that read first could be refused at once instead.
            conn.execute("BEGIN IMMEDIATE")
            try:
                rows = conn.execute(sql.replace("%s", "?"), params).fetchall()
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            # "database is locked" past the busy timeout: the API's 503 database_busy.
            raise OperationalError(str(exc)) from exc
        return rows


def sqlite_counter_path() -> str:
    """THROTTLE_SQLITE_PATH, or `<main database>-throttles.sqlite3` beside the main file
    (an in-memory main database, as in the test suite, counts in the temporary directory)."""
    if configured := settings.THROTTLE_SQLITE_PATH:
        return str(configured)
    name = str(connection.settings_dict["NAME"])
    if name == ":memory:" or "mode=memory" in name:
        return str(Path(tempfile.gettempdir()) / f"opply-throttles-{os.getuid()}.sqlite3")
    main = Path(name)
    return str(main.with_name(f"{main.stem}-throttles.sqlite3"))


_stores: dict[tuple[str, str], CounterStore] = {}
_stores_lock = threading.Lock()


def counter_store() -> CounterStore:
    """The store for this process's settings: Redis, PostgreSQL, or a SQLite side file."""
    redis_url = settings.REDIS_URL
    if redis_url:
        which = ("redis", redis_url)
    elif connection.vendor == "sqlite":
        which = ("sqlite", sqlite_counter_path())
    else:
        which = ("database", connection.alias)
    store = _stores.get(which)
    if store is None:
        with _stores_lock:
            store = _stores.get(which)
            if store is None:
                kind, location = which
                if kind == "redis":
                    store = RedisCounterStore(location)
                elif kind == "sqlite":
                    store = SQLiteFileCounterStore(location)
                else:
                    store = DatabaseCounterStore()
                _stores[which] = store
    return store


def counter_key(*parts: str) -> str:
    """A store key under THROTTLE_KEY_PREFIX, at most 200 characters."""
    return ":".join((settings.THROTTLE_KEY_PREFIX, "throttle", *parts))[:200]


# --- DRF throttles ------------------------------------------------------------------------


class CounterThrottle(SimpleRateThrottle):
    """A DRF throttle (scope, rate from the settings, 429 with Retry-After) whose count is
    one atomic hit on the counter store instead of DRF's read-then-write history.

    Subclasses name their `scope` and say which setting holds the rate (empty disables)
    and who the caller is (`get_cache_key`, as in DRF).
    """

    rate_setting = ""

    def __init__(self) -> None:
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self._wait: float | None = None

    def get_rate(self) -> str | None:
        return getattr(settings, self.rate_setting, None) or None

    def allow_request(self, request: Request, view: APIView) -> bool:
        if self.rate is None or self.num_requests is None or self.duration is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        store_key = counter_key(str(self.scope), key)
        counted = _take_counted_hit(request, store_key, self.duration)
        hits, remaining = counted or counter_store().hit(store_key, self.duration)
        if hits <= self.num_requests:
            return True
        self._wait = max(1.0, remaining)
        return False

    def wait(self) -> float | None:
        return self._wait


# A hit counted ahead of the throttle, in the round trip that authenticated the request
# (accounts/token_cache.py): {(store key, period): (hits, seconds left)} on the HttpRequest.
_COUNTED = "opply_counted_hits"


def note_counted_hit(
    request: HttpRequest, store_key: str, period: int, counted: tuple[int, float]
) -> None:
    """Leave a hit already counted for `store_key` for the throttle that would count it."""
    request.__dict__.setdefault(_COUNTED, {})[(store_key, period)] = counted


def _take_counted_hit(request: Request, store_key: str, period: int) -> tuple[int, float] | None:
    counted = request._request.__dict__.get(_COUNTED)
    return counted.pop((store_key, period), None) if counted else None


def user_counter_of(view: APIView | None) -> tuple[str, int] | None:
    """The counter the view's per-user throttle counts on, as (key prefix that the user's id
    completes, period in seconds), or None if the view does not count users' requests."""
    for throttle in view.get_throttles() if view is not None else ():
        if type(throttle) is UserThrottle and throttle.rate and throttle.duration:
            prefix = counter_key(str(throttle.scope), "")
            # counter_key() cuts keys at 200 characters: never count on a different key.
            return (prefix, int(throttle.duration)) if len(prefix) <= 180 else None
    return None


class UserThrottle(CounterThrottle):
    """Authenticated callers, by user id, rate THROTTLE_USER_RATE (empty disables)."""

    scope = "user"
    rate_setting = "THROTTLE_USER_RATE"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if not request.user or not request.user.is_authenticated:
            return None
        return str(request.user.pk)


class AnonThrottle(CounterThrottle):
    """Anonymous callers, by client address, rate THROTTLE_ANON_RATE (empty disables)."""

    scope = "anon"
    rate_setting = "THROTTLE_ANON_RATE"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return BaseThrottle.get_ident(self, request)
