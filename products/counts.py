"""The catalogue's `COUNT(*)`, counted once per unchanged catalogue rather than per page.

Every transaction that writes products or their stock calls `catalogue_changed()`; once it
commits, a new random marker is stored in the shared cache. A list request reads the marker
once (one cache call, in place of a `COUNT(*)` over the catalogue; its ETag comes from the
same read) and reuses this process's
count for the same caller kind and filters under the same marker. So a change made through
any process is seen by the next request of every process; a change made around the services
(SQL by hand) is seen within `MAX_AGE_S`.

On unless the cache is the database table (`catalogue_counts_remembered`): there the
marker's read would be a query of its own, as dear as the count.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Hashable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

MARKER_KEY = "catalogue:marker"
MAX_AGE_S = 60.0
MAX_ENTRIES = 1000

_counts: dict[Hashable, tuple[float, int]] = {}
_marker: str | None = None


def catalogue_counts_remembered() -> bool:
    return "DatabaseCache" not in settings.CACHES["default"]["BACKEND"]


def catalogue_changed() -> None:
    """Move the marker once the current transaction commits (at once outside one)."""
    transaction.on_commit(_move_marker)


def _move_marker() -> None:
    cache.set(MARKER_KEY, secrets.token_hex(8), timeout=None)


def catalogue_marker() -> str | None:
    """The current marker, from one cache read, for a request's count and ETag alike. A new
    or emptied cache starts a generation no process has seen. None when there is no marker
    to go by: the cache is the database table, or it will not keep one."""
    if not catalogue_counts_remembered():
        return None
    marker = cache.get(MARKER_KEY)
    if marker is None:
        cache.add(MARKER_KEY, secrets.token_hex(8), timeout=None)
        marker = cache.get(MARKER_KEY)
    return marker


def catalogue_count(key: Hashable, count: Callable[[], int], marker: str | None) -> int:
    """The count for `key` (caller kind and filters) under `marker` (catalogue_marker())."""
    global _marker
    if marker is None:
        _counts.clear()
        return count()
    if marker != _marker or len(_counts) >= MAX_ENTRIES:
        _counts.clear()
        _marker = marker
    now = time.monotonic()
    known = _counts.get(key)
    if known is not None and now - known[0] < MAX_AGE_S:
        return known[1]
    counted = count()
    _counts[key] = (now, counted)
    return counted


def catalogue_etag(key: Hashable, marker: str | None) -> str | None:
    """A weak ETag for a catalogue page, known without reading the page: a hash of `marker`
    (catalogue_marker()), `key` (caller kind, query parameters, format) and the current
    `MAX_AGE_S` window of the clock, so that a change made around the services is seen
    within that window as with the count. None without a marker: the page's own hash then
    serves."""
    if marker is None:
        return None
    window = int(time.time() // MAX_AGE_S)
    digest = hashlib.blake2b(repr((marker, window, key)).encode(), digest_size=16).hexdigest()
    return f'W/"c{digest}"'
