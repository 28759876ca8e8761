"""Profile one read scenario in-process with pyinstrument, against the benchmark database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/opply_bench \\
        .venv/bin/python bench/profile.py catalogue [requests]

Runs the request through Django's full handler (middleware, DRF, serializer, renderer) with
the run's production settings, prints the mean time per request and pyinstrument's tree.
Needs the dataset `make bench` loads (bench/results/data.lua is not read: the first
buyer's token is taken from the database).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATHS = {
    "healthz": "/healthz",
    "catalogue": "/products/",
    "deep_page": "/products/?page=480",
    "search": "/products/?search=flour",
    "detail": "/products/5/",
    "history": "/orders/",
    "current": "/orders/current/",
}


def main() -> None:
    scenario = sys.argv[1] if len(sys.argv) > 1 else "catalogue"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/opply_bench")
    os.environ.setdefault("SECRET_KEY", "profile-only")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECURE_PROXY_SSL_HEADER", "HTTP_X_FORWARDED_PROTO,https")
    os.environ.setdefault("THROTTLE_USER_RATE", "10000000/min")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/9")
    os.environ.setdefault("CACHE_KEY_PREFIX", "opply-bench")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "opply.settings"
    import django

    django.setup()
    from django.test import Client
    from pyinstrument import Profiler
    from rest_framework.authtoken.models import Token

    token = Token.objects.order_by("user_id").first()
    assert token is not None, "load the dataset first (make bench)"
    client = Client(
        HTTP_AUTHORIZATION=f"Token {token.key}",
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_HOST="127.0.0.1",
    )
    path = PATHS[scenario]
    for _ in range(50):
        assert client.get(path).status_code == 200
    profiler = Profiler(interval=0.0002)
    started = time.perf_counter()
    with profiler:
        for _ in range(count):
            client.get(path)
    elapsed = time.perf_counter() - started
    print(f"{scenario}: {elapsed / count * 1000:.2f} ms per request ({count} requests)")
    print(profiler.output_text(unicode=True, show_all=os.environ.get("PROFILE_ALL") == "1"))


if __name__ == "__main__":
    main()
