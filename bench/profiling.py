"""Profile the read scenarios in-process, against the database `make bench` loaded.

    .venv/bin/python bench/profiling.py cpu [requests]     (cpu-json: the same as JSON)
        CPU and wall milliseconds per request of each read scenario, through Django's whole
        WSGI handler (middleware, DRF, serializer, renderer, access log) and through the
        ceiling, with the run's production settings. CPU time (time.process_time) counts
        this process only, so it moves much less than wall time when the machine is busy.

    .venv/bin/python bench/profiling.py tree SCENARIO [requests]
        pyinstrument's call tree of the API for one scenario (PROFILE_ALL=1: every frame).

DATABASE_URL defaults to the benchmark's database; load it first with `make bench`.
For a profile of the real servers under wrk, see py-spy in docs/benchmarks.md.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Any]
OUT = sys.stdout  # the access log's lines go to /dev/null; this report goes here


def _setup() -> tuple[WSGIApp, WSGIApp, list[str]]:
    sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
    defaults = {
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/opply_bench",
        "SECRET_KEY": "profile-only",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
        "THROTTLE_USER_RATE": "10000000/min",
        "THROTTLE_ANON_RATE": "10000000/min",
        "REDIS_URL": "redis://127.0.0.1:6379/9",
        "CACHE_KEY_PREFIX": "opply-bench",
        "DJANGO_SETTINGS_MODULE": "opply.settings",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    # The access log stays on, as in production; its lines go to /dev/null.
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
    from django.core.wsgi import get_wsgi_application

    django_app = get_wsgi_application()
    import ceiling
    from rest_framework.authtoken.models import Token

    # Every buyer in turn, as wrk picks them: one caller's throttle history would grow with
    # every request and cost more than it does in the run.
    tokens = list(Token.objects.order_by("user_id").values_list("key", flat=True))
    if not tokens:
        sys.exit("No buyers in the database: run `make bench` first.")
    return django_app, ceiling.app, tokens


def _environ(path: str, token: str) -> dict[str, Any]:
    path_info, _, query = path.partition("?")
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Token {token}",
        "HTTP_X_FORWARDED_PROTO": "https",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
    }


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    if not status.startswith("200"):
        raise RuntimeError(f"unexpected {status}")


def _serve(app: WSGIApp, path: str, tokens: list[str], count: int) -> tuple[float, float]:
    """Mean CPU and wall milliseconds per request over `count` requests, after a warm-up."""
    for token in tokens[:30]:
        b"".join(app(_environ(path, token), _start_response))
    cpu, wall = time.process_time(), time.perf_counter()
    for number in range(count):
        response = app(_environ(path, tokens[number % len(tokens)]), _start_response)
        b"".join(response)
        if hasattr(response, "close"):
            response.close()
    return (
        (time.process_time() - cpu) / count * 1000,
        (time.perf_counter() - wall) / count * 1000,
    )


def cpu(count: int, as_json: bool = False) -> None:
    django_app, ceiling_app, tokens = _setup()
    measured = {}
    for name, path in PATHS.items():
        api_cpu, api_wall = _serve(django_app, path, tokens, count)
        ceiling_cpu, ceiling_wall = _serve(ceiling_app, path, tokens, count)
        measured[name] = {
            "api_cpu_ms": api_cpu,
            "api_wall_ms": api_wall,
            "ceiling_cpu_ms": ceiling_cpu,
            "ceiling_wall_ms": ceiling_wall,
        }
    if as_json:
        json.dump({"requests": count, "scenarios": measured}, OUT)
        return
    print(
        f"{'scenario':<11} {'API cpu':>8} {'wall':>7} {'ceiling cpu':>12} {'wall':>7}  (ms)",
        file=OUT,
    )
    for name, m in measured.items():
        print(
            f"{name:<11} {m['api_cpu_ms']:8.2f} {m['api_wall_ms']:7.2f} "
            f"{m['ceiling_cpu_ms']:12.2f} {m['ceiling_wall_ms']:7.2f}",
            file=OUT,
        )


def tree(scenario: str, count: int) -> None:
    from pyinstrument import Profiler

    django_app, _, tokens = _setup()
    profiler = Profiler(interval=0.0002)
    with profiler:
        _, api_wall = _serve(django_app, PATHS[scenario], tokens, count)
    print(f"{scenario}: {api_wall:.2f} ms wall per request ({count} requests)", file=OUT)
    print(
        profiler.output_text(unicode=True, show_all=os.environ.get("PROFILE_ALL") == "1"),
        file=OUT,
    )


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "cpu"
    if mode in ("cpu", "cpu-json"):
        cpu(int(sys.argv[2]) if len(sys.argv) > 2 else 300, as_json=mode == "cpu-json")
    elif mode == "tree":
        tree(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 300)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
