"""`make bench`: measure the API against its ceiling on PostgreSQL, and write the report.

1. Production settings for the run: DEBUG off, a SECRET_KEY made for the run, PostgreSQL from
   DATABASE_URL (default postgres://postgres@127.0.0.1:5432/opply_bench, created if missing),
   throttles raised far above the load (see THROTTLE_RATE below), Redis for their counters
   when it answers.
2. migrate, then load the dataset (bench/dataset.py).
3. Serve the API (opply.wsgi) and the ceiling (bench/ceiling.py) with the same
   gunicorn.conf.py and WEB_CONCURRENCY=2, each on a free port; check that the ceiling's
   responses equal the API's.
4. For each scenario, wrk for a fixed time at a fixed connection count with random buyers'
   tokens (bench/wrk/scenario.lua): each read scenario against the API and the ceiling in
   alternating turns, then the writes against the API.
5. Webhooks (bench/webhooks.py): a burst of orders through the API with one, then two
   `manage.py worker` processes delivering the order events to a local receiver; events
   written per second, commit-to-receipt latency, drain time; then its ceiling.
6. Write bench/results/results.json, docs/benchmarks.md and docs/benchmarks.png.

Environment: DATABASE_URL, BENCH_DURATION (seconds per scenario, default 10; the in-process
CPU table takes 30 requests per second of it, so BENCH_DURATION=2 is a run of under two
minutes),
BENCH_CONNECTIONS (default 8), BENCH_THREADS (wrk threads, default 2), BENCH_REDIS_URL
(default redis://127.0.0.1:6379/9; empty keeps the database cache). Exit status 1 when
a request failed (non-2xx or socket error), the ceiling disagrees with the API, a webhook
never arrived or arrived with a bad signature, or the stock ledger no longer explains every
product's stock after the writes.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import webhooks
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
BIN = Path(sys.executable).parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/opply_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"
# Far above anything 8 connections can send: the throttle still runs (and costs what it
# costs in production) on every request, it just never refuses one.
THROTTLE_RATE = "10000000/min"
WORKERS = 2
SLICES = 2  # turns each side takes in a read scenario


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    kind: str  # "floor", "read", "write" or "placing" (a write the ceiling also does)
    sample_path: str = ""  # a request of this scenario, to compare the API with the ceiling
    target_ratio: float | None = None
    connections: int | None = None  # BENCH_CONNECTIONS unless given


SCENARIOS = [
    Scenario("healthz", "/healthz (framework floor)", "floor", "/healthz"),
    Scenario("catalogue", "Catalogue, page 1", "read", "/products/", 0.5),
    Scenario("deep_page", "Catalogue, deep page", "read", "/products/?page={deep_page}", 0.5),
    Scenario("search", "Catalogue search", "read", "/products/?search={search_term}", 0.5),
    Scenario("detail", "Product detail", "read", "/products/{product}/", 0.4),
    Scenario("history", "Order history, page 1", "read", "/orders/", 0.5),
    Scenario("current", "Current order", "read", "/orders/current/", 0.4),
    Scenario("catalogue_304", "Catalogue, page 1, If-None-Match: 304", "write"),
    Scenario("add_to_order", "add_to_order", "write"),
    Scenario("submit", "Submit (POST /orders/, one line)", "write"),
    Scenario("hot_product", "Hot product: 1-unit orders, one product", "placing", connections=32),
    *(
        Scenario(f"order_{n}", f"Order of {n} line{'s' * (n > 1)}", "placing", connections=1)
        for n in (1, 10, 100, 500)
    ),
]
P99_LIMIT_MS = 50.0


def log(message: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_database(url: str) -> None:
    """Create the run's database when the server does not have it yet."""
    name = urlsplit(url).path.lstrip("/")
    maintenance = urlsplit(url)._replace(path="/postgres").geturl()
    try:
        conn = psycopg.connect(maintenance, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        sys.exit(f"PostgreSQL at {urlsplit(url).netloc} does not answer: {error}")
    with conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        log(f"creating database {name}")
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def redis_answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or 6379), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def run_env(database_url: str, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="opply.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        CACHE_KEY_PREFIX="opply-bench",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        # wrk stands where the TLS-terminating proxy would: plain HTTP, X-Forwarded-Proto.
        SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https",
        THROTTLE_USER_RATE=THROTTLE_RATE,
        THROTTLE_ANON_RATE=THROTTLE_RATE,
        WEB_CONCURRENCY=str(WORKERS),
        HOST="127.0.0.1",
        PYTHONUNBUFFERED="1",
    )
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


@contextmanager
def serve(name: str, app: str, env: dict[str, str], *extra: str, cwd: Path = ROOT) -> Iterator[int]:
    """A gunicorn server on a free port for the duration of the block; stopped after it."""
    port = free_port()
    log_path = RESULTS / f"{name}.log"
    with open(log_path, "wb") as log_file:
        server = subprocess.Popen(
            [str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", *extra, app],
            cwd=cwd,
            env={**env, "PORT": str(port)},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 30
            while get(port, "/healthz")[0] != 200:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start; see {log_path}")
                time.sleep(0.2)
            log(f"{name} serving on 127.0.0.1:{port} (pid {server.pid})")
            yield port
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
                try:
                    server.wait(timeout=35)
                except subprocess.TimeoutExpired:
                    os.killpg(server.pid, signal.SIGKILL)
                    server.wait()


def get(port: int, path: str, token: str | None = None) -> tuple[int, Any]:
    headers = {"Host": "127.0.0.1", "X-Forwarded-Proto": "https"}
    if token:
        headers["Authorization"] = f"Token {token}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        return response.status, json.loads(body) if body else None
    except (OSError, ValueError):
        return 0, None
    finally:
        conn.close()


def etag(port: int, path: str, token: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        # The Host wrk sends: the page's links, and so its ETag, carry it.
        conn.request("GET", path, headers={"Host": f"127.0.0.1:{port}",
                                           "X-Forwarded-Proto": "https",
                                           "Authorization": f"Token {token}"})  # fmt: skip
        response = conn.getresponse()
        response.read()
        return response.getheader("ETag") or ""
    finally:
        conn.close()


def post(port: int, path: str, token: str, body: Any) -> tuple[int, Any]:
    headers = {
        "Host": "127.0.0.1",
        "X-Forwarded-Proto": "https",
        "Authorization": f"Token {token}",
        "Content-Type": "application/json",
    }
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", path, body=json.dumps(body), headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    except (OSError, ValueError):
        return 0, None
    finally:
        conn.close()


def compare_placing(api: int, ceiling: int, data: dict[str, Any]) -> list[str]:
    """The same order placed through both: the same answer but for the id and timestamps
    (each side places its own order); the ledger check after the run covers the stock."""
    items = [{"product": pk, "quantity": 1} for pk in data["products"][5:8]]
    answers = [
        post(port, "/orders/", data["tokens"][1], {"items": items}) for port in (api, ceiling)
    ]
    moment = ("id", "created_at", "submitted_at")
    expected, actual = ({k: v for k, v in body.items() if k not in moment} if body else body
                        for _, body in answers)  # fmt: skip
    if answers[0][0] != 201 or answers[0][0] != answers[1][0] or expected != actual:
        return [f"POST /orders/: API {answers[0]!r:.300} != ceiling {answers[1]!r:.300}"]
    return []


def compare(api: int, ceiling: int, data: dict[str, Any]) -> list[str]:
    """Every read scenario's sample request, answered alike by the API and the ceiling."""
    fields = {
        "deep_page": data["deep_page"],
        "search_term": data["search_terms"][0],
        "product": data["products"][0],
    }
    problems = []
    for scenario in SCENARIOS:
        if scenario.kind in ("write", "placing"):
            continue
        path = scenario.sample_path.format(**fields)
        expected, actual = get(api, path, data["tokens"][0]), get(ceiling, path, data["tokens"][0])
        if expected[0] != 200 or expected != actual:
            problems.append(f"{path}: API {expected[0]} {expected[1]!r:.300} != ceiling "
                            f"{actual[0]} {actual[1]!r:.300}")  # fmt: skip
    return problems


def wrk(
    port: int, scenario: str, seconds: int, connections: int, threads: int, data: Path | None = None
) -> dict[str, Any]:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-s",
        str(BENCH / "wrk" / "scenario.lua"),
        f"http://127.0.0.1:{port}",
        "--",
        str(data or RESULTS / "data.lua"),
        scenario,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    stats: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    seconds_run = stats["duration_us"] / 1e6
    # catalogue_304: a connection's full page when the ETag's 60 s window moves is what a
    # client holding the page gets; more than one per connection and window is a failure.
    extra_pages = max(0, stats["refreshed"] - connections * (seconds // 60 + 2))
    return {
        "requests": stats["requests"],
        "rps": stats["requests"] / seconds_run,
        "p50_ms": stats["p50_us"] / 1000,
        "p90_ms": stats["p90_us"] / 1000,
        "p99_ms": stats["p99_us"] / 1000,
        "max_ms": stats["max_us"] / 1000,
        "non2xx": stats["non2xx"] + extra_pages,
        "socket_errors": stats["socket_errors"],
    }


def merged(slices: list[dict[str, Any]]) -> dict[str, Any]:
    """Slices of one scenario as one run: counts add up, p50 is the slices' request-weighted
    mean, p90/p99/max the highest slice's (never better than any slice saw)."""
    requests = sum(s["requests"] for s in slices)
    seconds = sum(s["requests"] / s["rps"] for s in slices if s["rps"])
    return {
        "requests": requests,
        "rps": requests / seconds if seconds else 0.0,
        "p50_ms": sum(s["p50_ms"] * s["requests"] for s in slices) / max(requests, 1),
        "p90_ms": max(s["p90_ms"] for s in slices),
        "p99_ms": max(s["p99_ms"] for s in slices),
        "max_ms": max(s["max_ms"] for s in slices),
        "non2xx": sum(s["non2xx"] for s in slices),
        "socket_errors": sum(s["socket_errors"] for s in slices),
    }


def write_lua_data(data: dict[str, Any], path: Path | None = None) -> None:
    def lua_list(values: list[Any]) -> str:
        return "{" + ",".join(json.dumps(v) for v in values) + "}"

    (path or RESULTS / "data.lua").write_text(
        "-- Written by bench/run.py from the generated dataset.\nreturn {\n"
        f"  tokens = {lua_list(data['tokens'])},\n"
        f"  products = {lua_list(data['products'])},\n"
        f"  search_terms = {lua_list(data['search_terms'])},\n"
        f"  deep_page = {data['deep_page']},\n"
        f"  catalogue_etag = {json.dumps(data.get('catalogue_etag', ''))},\n}}\n"
    )


def machine(database_url: str) -> dict[str, str]:
    def output(*command: str) -> str:
        try:
            return subprocess.run(command, capture_output=True, text=True).stdout
        except OSError:
            return ""

    lscpu = {
        key.strip(): value.strip()
        for key, _, value in (line.partition(":") for line in output("lscpu").splitlines())
    }
    memory = next(
        (line.split()[1] for line in output("free", "-h").splitlines() if line.startswith("Mem:")),
        "?",
    )
    with psycopg.connect(database_url, connect_timeout=5) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return {
        "cpus": output("nproc").strip(),
        "cpu_model": lscpu.get("Model name", "?"),
        "memory": memory,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": row[0] if row else "?",
        "wrk": output("wrk", "-v").splitlines()[0] if output("wrk", "-v") else "?",
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def main() -> int:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (make bench installs it: apt-get install -y wrk).")
    started = time.monotonic()
    seconds = max(SLICES, int(os.environ.get("BENCH_DURATION", "10")))
    connections = int(os.environ.get("BENCH_CONNECTIONS", "8"))
    threads = int(os.environ.get("BENCH_THREADS", "2"))
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    if not database_url.startswith(("postgres://", "postgresql://")):
        sys.exit(f"make bench measures PostgreSQL; DATABASE_URL is {database_url!r}.")
    if "bench" not in urlsplit(database_url).path:
        sys.exit("make bench empties the tables of its database: name one with 'bench' in it.")
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    if redis_url and not redis_answers(redis_url):
        log(f"Redis at {redis_url} does not answer: throttle counters stay in the database")
        redis_url = ""
    RESULTS.mkdir(parents=True, exist_ok=True)

    ensure_database(database_url)
    env = run_env(database_url, redis_url)
    log("migrating")
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    log("loading the dataset")
    loaded = subprocess.run(
        [sys.executable, str(BENCH / "dataset.py")],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.PIPE,
    )
    data = json.loads(loaded.stdout)
    write_lua_data(data)
    (RESULTS / "data.json").write_text(json.dumps(data))

    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(database_url),
        "settings": {
            "duration_s": seconds,
            "connections": connections,
            "wrk_threads": threads,
            "workers": WORKERS,
            # gunicorn.conf.py's defaults unless the environment says otherwise.
            "worker_class": os.environ.get("GUNICORN_WORKER_CLASS", "gthread"),
            "threads": int(os.environ.get("GUNICORN_THREADS", "4"))
            if os.environ.get("GUNICORN_WORKER_CLASS", "gthread") == "gthread"
            else 1,
            "slices": SLICES,
            "throttle_rate": THROTTLE_RATE,
            "throttle_cache": "Redis" if redis_url else "database table",
        },
        "scenarios": [],
    }
    failed = False
    with ExitStack() as stack:
        api = stack.enter_context(serve("api", "opply.wsgi", env))
        ceiling = stack.enter_context(
            serve("ceiling", "ceiling:app", env, "--pythonpath", str(BENCH))
        )
        if problems := compare(api, ceiling, data) + compare_placing(api, ceiling, data):
            for problem in problems:
                log(f"ceiling disagrees with the API: {problem}")
            return 1
        log("the ceiling answers every read sample exactly as the API does")
        # Every buyer sees the same first page, so one buyer's ETag is every buyer's.
        data["catalogue_etag"] = etag(api, "/products/", data["tokens"][0])
        write_lua_data(data)
        for port in (api, ceiling):  # connections opened, code paths warm
            for name in ("catalogue", "history"):
                wrk(port, name, 2, connections, threads)
        for scenario in SCENARIOS:
            entry: dict[str, Any] = {
                "name": scenario.name,
                "label": scenario.label,
                "kind": scenario.kind,
                "target_ratio": scenario.target_ratio,
            }
            width = scenario.connections or connections
            entry["connections"] = width
            if scenario.kind == "write":
                entry["api"] = wrk(api, scenario.name, seconds, width, threads)
            else:
                # API and ceiling take turns, so that a change in the machine's load during
                # the scenario weighs on both sides alike.
                turns: dict[str, list[dict[str, Any]]] = {"api": [], "ceiling": []}
                for _ in range(SLICES):
                    for side, port in (("api", api), ("ceiling", ceiling)):
                        turns[side].append(
                            wrk(port, scenario.name, seconds // SLICES, width, min(threads, width))
                        )
                entry["api"], entry["ceiling"] = merged(turns["api"]), merged(turns["ceiling"])
                entry["ratio"] = entry["api"]["rps"] / entry["ceiling"]["rps"]
            results["scenarios"].append(entry)
            for side in ("api", "ceiling"):
                if side in entry:
                    stats = entry[side]
                    failed |= bool(stats["non2xx"] or stats["socket_errors"])
                    log(
                        f"{scenario.name:>13} {side:>7}: {stats['rps']:7.0f} req/s  "
                        f"p50 {stats['p50_ms']:6.2f} ms  p99 {stats['p99_ms']:6.2f} ms  "
                        f"non-2xx {stats['non2xx']}  socket errors {stats['socket_errors']}"
                    )
            if "ratio" in entry:
                log(f"{scenario.name:>13}   ratio: {entry['ratio']:.2f}")

        log("webhooks: a burst of orders with 1 and with 2 workers, then the ceiling")
        warm_up = {"items": [{"product": data["products"][9], "quantity": 1}]}
        results["webhooks"] = outcome = webhooks.measure(
            env=env,
            database_url=database_url,
            results=RESULTS,
            port=free_port(),
            place_order=lambda: post(api, "/orders/", data["tokens"][2], warm_up)[0],
            burst=lambda: wrk(api, "submit", seconds, connections, threads),
            log=log,
        )
        for burst in outcome["bursts"]:
            failed |= bool(burst["orders"]["non2xx"] or burst["orders"]["socket_errors"])
        for problem in webhooks.failures(outcome):
            log(f"WEBHOOKS FAILED: {problem}")
            failed = True

    # The writes went through the services: the ledger must still explain every stock.
    ledger = subprocess.run(
        [sys.executable, "manage.py", "check_stock"], cwd=ROOT, env=env, capture_output=True
    )
    results["ledger_consistent"] = ledger.returncode == 0
    log(f"check_stock after the writes: {'clean' if ledger.returncode == 0 else 'MISMATCH'}")
    failed |= ledger.returncode != 0

    log("CPU per request, in-process (bench/profiling.py)")
    profiled = subprocess.run(
        [sys.executable, str(BENCH / "profiling.py"), "cpu-json", str(30 * seconds)],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.PIPE,
    )
    results["cpu"] = json.loads(profiled.stdout)
    results["elapsed_s"] = round(time.monotonic() - started)
    (RESULTS / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    subprocess.run(
        [sys.executable, str(BENCH / "report.py"), str(RESULTS / "results.json")],
        cwd=ROOT,
        check=True,
    )
    log(f"done in {results['elapsed_s']} s: docs/benchmarks.md, docs/benchmarks.png")
    if failed:
        log("some requests failed (non-2xx or socket errors) or webhooks went missing: see above")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
