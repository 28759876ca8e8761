"""What one throttled request costs in the throttle, before and after the counter store.

    .venv/bin/python bench/throttle_cost.py [requests]

Times `allow_request` of DRF's own UserRateThrottle (read the history from Django's cache,
then write it back: two round trips) against opply.throttles.UserThrottle (one atomic hit
on the counter store: one round trip), on each store this machine offers: the SQLite
default (DRF: the cache table in the main database; opply: the side file), PostgreSQL
(DATABASE_URL=postgres://...) and Redis (REDIS_URL). Wall microseconds per request, median
of five rounds; run it twice on a busy machine and compare side by side.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opply.settings")
os.environ.setdefault("SECRET_KEY", "throttle-cost-only")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import override_settings  # noqa: E402
from rest_framework.test import APIRequestFactory  # noqa: E402
from rest_framework.throttling import UserRateThrottle  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

from opply.throttles import UserThrottle  # noqa: E402

RATE = "100000000/min"  # never refuses: every call pays the full counting


class _User:
    """A signed-in caller, as the throttles see one."""

    pk = 1
    is_authenticated = True


def per_request_us(throttle_class: type, requests: int) -> float:
    factory = APIRequestFactory()
    view = APIView()
    rounds = []
    for _ in range(5):
        request = view.initialize_request(factory.get("/products/"))
        request.user = _User()  # type: ignore[assignment]
        started = time.perf_counter()
        for _ in range(requests):
            assert throttle_class().allow_request(request, view)
        rounds.append((time.perf_counter() - started) / requests * 1e6)
    return statistics.median(rounds)


class DRFThrottle(UserRateThrottle):
    rate = RATE


def main() -> None:
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    call_command("migrate", verbosity=0)
    store = "Redis" if settings.REDIS_URL else connection.vendor
    with override_settings(THROTTLE_USER_RATE=RATE, THROTTLE_KEY_PREFIX=uuid.uuid4().hex):
        DRFThrottle.cache.clear()
        drf = per_request_us(DRFThrottle, requests)
        ours = per_request_us(UserThrottle, requests)
    print(f"{store}: DRF read-then-write {drf:.0f} us/request, counter store {ours:.0f} us/request")


if __name__ == "__main__":
    main()
