"""A token's answer kept in Redis beside the throttle counters, so that an API request with a
token asks one shared store once: one script reads the token's entry and counts the user's
hit (opply/throttles.py `read_and_hit`), where otherwise the token is a query and the hit a
Redis call of its own.

On only with REDIS_URL (the counters' store) and TOKEN_CACHE_SECONDS > 0. An entry is
`<user id>|<JSON>`: the token's creation time and the user's fields but the password and
`last_login` (deferred: read from the database if something asks). Keys are the SHA-256 of
the token, so Redis never holds a key that authenticates. Only active users are kept.

Revocation is immediate on every process. Before a token is deleted or changed, and before a
user is saved (any field but `last_login`), the token's entry is overwritten with a marker
that sends every request to the database for STALE_SECONDS; entries are only ever written
with SET NX, so a request that read the database before the change cannot put the old answer
back while the marker lives. The marker is written before the change commits (if Redis
cannot be told, the change fails instead of leaving a revoked token working) and, for a
user's tokens, again once it has committed (a token issued meanwhile). Every process marks
entries stale when the counters are in Redis, even one that does not read them
(TOKEN_CACHE_SECONDS=0). With the cache on, a request counts its throttle hit while it is
authenticated, so a request then refused by a permission (403) counts too. A change made
around the ORM (SQL, `QuerySet.update()`) is seen when the entry expires, within
TOKEN_CACHE_SECONDS.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

import orjson
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest
from rest_framework.authtoken.models import Token

from opply.throttles import RedisCounterStore, counter_key, counter_store, note_counted_hit

# Fields kept in an entry, in the model's order (what Model.from_db expects); the rest are
# deferred.
USER_FIELDS = [
    f.attname for f in User._meta.concrete_fields if f.attname not in ("password", "last_login")
]
_DATETIME_FIELDS = frozenset(
    f.attname for f in User._meta.concrete_fields if f.get_internal_type() == "DateTimeField"
)
STALE = b"stale"
# Far longer than the moment between a request's read of the token in the database and its
# write of the entry, which follow each other in one call.
STALE_SECONDS = 300


def _redis() -> RedisCounterStore | None:
    """The counters' Redis, if they are in one: where entries are marked stale, by every
    process, whether or not it reads entries itself (an admin or a shell run with the cache
    off must still invalidate what the API's processes cached)."""
    if not settings.REDIS_URL:
        return None
    store = counter_store()
    return store if isinstance(store, RedisCounterStore) else None


def _store() -> RedisCounterStore | None:
    """The same Redis, if this process reads and writes entries (TOKEN_CACHE_SECONDS > 0)."""
    return _redis() if settings.TOKEN_CACHE_SECONDS > 0 else None


def entry_key(token_key: str) -> str:
    digest = hashlib.sha256(token_key.encode()).hexdigest()
    return counter_key("token", digest)


def lookup(
    request: HttpRequest, token_key: str, user_counter_of: Callable[[], tuple[str, int] | None]
) -> tuple[User, Token] | None:
    """The token's user and token from the cache, counting the user's throttle hit in the
    same round trip (left on the request for the throttle); None when the cache is off,
    holds nothing for this token or holds the stale marker: then ask the database."""
    store = _store()
    if store is None:
        return None
    user_counter = user_counter_of()  # the view's throttles: only asked with the cache on
    prefix, period = user_counter if user_counter else ("", None)
    entry, counted = store.read_and_hit(entry_key(token_key), prefix, period)
    if entry is None or entry == STALE:
        return None
    user_id, _, payload = entry.partition(b"|")
    created, values = orjson.loads(payload)
    values = [
        datetime.fromisoformat(value) if name in _DATETIME_FIELDS and value else value
        for name, value in zip(USER_FIELDS, values, strict=True)
    ]
    user = User.from_db("default", USER_FIELDS, values)
    token = Token.from_db(
        "default",
        ["key", "user_id", "created"],
        [token_key, user.pk, datetime.fromisoformat(created)],
    )
    token.user = user
    if counted is not None and user_counter is not None:
        note_counted_hit(request, prefix + user_id.decode(), period or 0, counted)
    return user, token


def remember(token: Token, user: User) -> None:
    """Keep an active user's answer for TOKEN_CACHE_SECONDS, unless an entry or the stale
    marker is there already."""
    store = _store()
    if store is None or not user.is_active:
        return
    values = [getattr(user, name) for name in USER_FIELDS]
    payload = orjson.dumps([token.created, values])
    store.client.set(
        entry_key(token.key),
        f"{user.pk}|".encode() + payload,
        ex=settings.TOKEN_CACHE_SECONDS,
        nx=True,
    )


def forget(*token_keys: str) -> None:
    """Mark these tokens' entries stale: every process asks the database for them until the
    marker expires."""
    store = _redis()
    if store is None or not token_keys:
        return
    with store.client.pipeline(transaction=False) as pipe:
        for key in token_keys:
            pipe.set(entry_key(key), STALE, ex=STALE_SECONDS)
        pipe.execute()


def forget_user(user_id: Any) -> None:
    """Mark the tokens of this user stale (a saved user may have lost a privilege): now, and
    again once the transaction commits, for a token issued meanwhile whose first request
    read the user as it was before the change."""
    if _redis() is None:
        return
    _forget_users_tokens(user_id)
    transaction.on_commit(partial(_forget_users_tokens, user_id), robust=True)


def _forget_users_tokens(user_id: Any) -> None:
    forget(*Token.objects.filter(user_id=user_id).values_list("key", flat=True))
