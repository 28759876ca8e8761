"""Real server processes for the system tests: throwaway databases, gunicorn, HTTP clients.

Everything runs on 127.0.0.1 with free ports, is bounded in time, and is torn down by the
fixtures in `tests/conftest.py` whether the test passed or not.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PYTHON = str(BIN / "python")
GUNICORN = str(BIN / "gunicorn")

# Seconds a client waits for one response; the servers' own worker timeout is longer, so a
# client timeout always means a hang, never a worker being recycled.
CLIENT_TIMEOUT = 20
GUNICORN_TIMEOUT = 40


TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/4")


def redis_env() -> dict[str, str]:
    """Settings for servers that count (and cache tokens) in Redis under a key prefix of
    their own; skips the test when no Redis answers."""
    import pytest
    import redis

    try:
        redis.Redis.from_url(TEST_REDIS_URL).ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {TEST_REDIS_URL} (TEST_REDIS_URL)")
    return {"REDIS_URL": TEST_REDIS_URL, "CACHE_KEY_PREFIX": f"test-{uuid.uuid4().hex}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_url() -> str | None:
    """The PostgreSQL server of this test run (DATABASE_URL), or None on the SQLite run."""
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


def _base_env() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "REDIS_URL", "PYTEST_", "GUNICORN_"))
    }
    env.update(
        SECRET_KEY=os.environ.get("SECRET_KEY") or "system-test-secret-key",
        DEBUG="false",
        FAST_PASSWORD_HASHER="true",
        THROTTLE_LOGIN_RATE="",
        THROTTLE_LOGIN_ADDRESS_RATE="",
        THROTTLE_LOGIN_SUCCESS_RATE="",
        THROTTLE_USER_RATE="",
        THROTTLE_ANON_RATE="",
        # Plain HTTP on the loopback: no redirect to HTTPS.
        SECURE_SSL_REDIRECT="false",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


# --- Databases -------------------------------------------------------------------------


@dataclass
class Database:
    """A database of its own for one test: a new PostgreSQL database or a SQLite file."""

    url: str
    vendor: str
    name: str

    @classmethod
    def create(cls, tmp_path: Path) -> Database:
        server = postgres_url()
        if server is None:
            return cls.sqlite(tmp_path)
        name = f"opply_sys_{uuid.uuid4().hex[:16]}"
        with _admin_connection(server) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        parts = urlsplit(server)
        return cls(url=urlunsplit(parts._replace(path=f"/{name}")), vendor="postgresql", name=name)

    @classmethod
    def sqlite(cls, tmp_path: Path) -> Database:
        path = tmp_path / "system.sqlite3"
        return cls(url=f"sqlite:///{path}", vendor="sqlite", name=str(path))

    def drop(self) -> None:
        if self.vendor != "postgresql":
            return
        server = postgres_url()
        assert server is not None
        with _admin_connection(server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def env(self, **extra: str) -> dict[str, str]:
        return {**_base_env(), "DATABASE_URL": self.url, **extra}

    def manage(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """`python manage.py <args>` against this database."""
        return subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def migrate(self) -> None:
        done = self.manage("migrate", "--noinput", "--verbosity", "0")
        assert done.returncode == 0, done.stderr

    def check_stock(self) -> subprocess.CompletedProcess[str]:
        return self.manage("check_stock", timeout=60)

    def run(self, job: Callable[..., Any], **params: Any) -> Any:
        """Call `job`, a function of tests/jobs.py, inside Django against this database, in a
        child process; `params` and the result travel as JSON."""
        assert callable(job), "pass a function of tests/jobs.py, not code in a string"
        done = subprocess.run(
            [PYTHON, "-m", "tests.run_job", f"{job.__module__}:{job.__name__}"],
            cwd=ROOT,
            env=self.env(),
            input=json.dumps(params),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    def deadlocks(self) -> int:
        """Deadlocks PostgreSQL has detected in this database so far."""
        server = postgres_url()
        assert server is not None
        assert self.vendor == "postgresql"
        with _admin_connection(server) as admin:
            row = admin.execute(
                "SELECT deadlocks FROM pg_stat_database WHERE datname = %s", [self.name]
            ).fetchone()
        return int(row[0]) if row else 0


@contextlib.contextmanager
def _admin_connection(server_url: str) -> Iterator[Any]:
    import psycopg

    parts = urlsplit(server_url)
    with psycopg.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password or None,
        dbname="postgres",
        autocommit=True,
        connect_timeout=10,
    ) as connection:
        yield connection


@dataclass
class Seed:
    products: list[int]
    tokens: list[str]
    orders: list[int]


def seed(
    database: Database,
    *,
    products: Iterable[tuple[str, int]],
    buyers: int,
    cart: Iterable[tuple[int, int]] = (),
    prefix: str = "buyer",
) -> Seed:
    """Products (made through the service, so the ledger holds), buyers with tokens and, when
    `cart` lists (product index, quantity) pairs, an active order per buyer holding them."""
    from tests import jobs as child_jobs  # Django models: imported once Django is set up

    result = database.run(
        child_jobs.seed,
        stocks_and_prices=[list(p) for p in products],
        buyers=buyers,
        cart=[list(line) for line in cart],
        prefix=prefix,
    )
    return Seed(products=result["products"], tokens=result["tokens"], orders=result["orders"])


def orders_state(database: Database) -> tuple[dict[int, dict[str, Any]], dict[int, int]]:
    """Every order (status, lines, its ledger movements by product) and every product's stock."""
    from tests import jobs as child_jobs  # Django models: imported once Django is set up

    state = database.run(child_jobs.orders_state)
    orders = {int(pk): order for pk, order in state["orders"].items()}
    for order in orders.values():
        order["lines"] = {int(pk): qty for pk, qty in order["lines"].items()}
        order["movements"] = {int(pk): moves for pk, moves in order["movements"].items()}
    return orders, {int(pk): qty for pk, qty in state["stock"].items()}


def assert_all_or_nothing(order_id: int, order: dict[str, Any]) -> str:
    """An order is fully submitted (one submit movement of -quantity per line, prices frozen)
    or untouched (active, no movement). Returns its status."""
    if order["status"] == "submitted":
        expected = {pk: [["submit", -qty]] for pk, qty in order["lines"].items()}
        assert order["movements"] == expected, (order_id, order)
        assert order["submitted_at"] is not None, (order_id, order)
        assert None not in order["prices"], (order_id, order)
    else:
        assert order["status"] == "active", (order_id, order)
        assert order["movements"] == {}, (order_id, order)
        assert order["submitted_at"] is None, (order_id, order)
    return str(order["status"])


def storm(
    database: Database, servers: list[Server], *, buyers: int, stock: int, threads: int
) -> tuple[list[Outcome], float]:
    """Buyers with one unit each in their cart, spread over the servers, submit at once."""
    data = seed(database, products=[("9.99", stock)], buyers=buyers, cart=[(0, 1)])
    jobs = [
        partial(call, "POST", f"{servers[i % len(servers)].url}/orders/{order}/submit/", token=t)
        for i, (order, t) in enumerate(zip(data.orders, data.tokens, strict=True))
    ]
    started = time.monotonic()
    outcomes = run_concurrently(jobs, threads=threads)
    return outcomes, time.monotonic() - started


def assert_sold_exactly(database: Database, outcomes: list[Outcome], *, stock: int) -> None:
    """Exactly `stock` submits succeeded, every other one is a 409 insufficient_stock, no
    request failed, the product ends at 0, the database agrees and the ledger reconciles."""
    assert [o.error for o in outcomes if o.error] == []
    assert Counter(o.status for o in outcomes) == {200: stock, 409: len(outcomes) - stock}
    sold = [o.body for o in outcomes if o.status == 200]
    assert {(body["status"], body["items"][0]["quantity"]) for body in sold} == {("submitted", 1)}
    orders, stocks = orders_state(database)
    [product] = stocks
    assert stocks == {product: 0}
    refused = [o.body for o in outcomes if o.status == 409]
    expected_refusal = {
        "code": "insufficient_stock",
        "lines": [{"product": product, "requested": 1, "available": 0}],
    }
    assert all({key: body[key] for key in expected_refusal} == expected_refusal for body in refused)
    assert not [o for o in outcomes if "locked" in str(o.body)]
    assert Counter(assert_all_or_nothing(pk, order) for pk, order in orders.items()) == {
        "submitted": stock,
        "active": len(outcomes) - stock,
    }
    submitted = {pk for pk, order in orders.items() if order["status"] == "submitted"}
    assert {body["id"] for body in sold} == submitted
    checked = database.check_stock()
    assert checked.returncode == 0, checked.stdout + checked.stderr


# --- Servers ---------------------------------------------------------------------------


@dataclass
class Server:
    """One gunicorn master and its workers, in a process group of their own."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def worker_pids(self) -> set[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return {int(pid) for pid in children.read_text().split()}
        except OSError:
            return set()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL the master and every worker at once (a crashed machine, an OOM kill)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        # Workers outlive a killed master only briefly; make sure none is left behind.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


@dataclass
class ServerFarm:
    """Starts gunicorn processes over one database and stops them all at teardown."""

    tmp_path: Path
    servers: list[Server] = field(default_factory=list)

    def start(
        self,
        database: Database,
        *,
        count: int = 1,
        workers: int = 2,
        database_url: str = "",
        **extra_env: str,
    ) -> list[Server]:
        started = []
        for _ in range(count):
            port = free_port()
            log = self.tmp_path / f"gunicorn-{port}.log"
            env = database.env(
                PORT=str(port),
                HOST="127.0.0.1",
                WEB_CONCURRENCY=str(workers),
                GUNICORN_TIMEOUT=str(GUNICORN_TIMEOUT),
                GUNICORN_GRACEFUL_TIMEOUT="5",
                GUNICORN_ACCESS_LOG="",
                GUNICORN_LOG_LEVEL="warning",
            )
            if database_url:
                env["DATABASE_URL"] = database_url
            env.update(extra_env)
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [GUNICORN, "--config", "gunicorn.conf.py", "opply.wsgi"],
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            server = Server(process=process, port=port, log=log)
            self.servers.append(server)
            started.append(server)
        for server in started:
            _wait_until_healthy(server, workers=workers)
        return started

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()


# Webhook settings of the system tests: a receiver on 127.0.0.1 over plain HTTP, retries a
# second apart, and a dead worker's deliveries taken over after 3 seconds.
WEBHOOK_TEST_ENV = {
    "WEBHOOK_ALLOW_HTTP": "true",
    "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
    "WEBHOOK_RETRY_SCHEDULE": "1,1,1,1,1,1,1,1,1",
    "WEBHOOK_LEASE_SECONDS": "3",
    "WORKER_POLL_SECONDS": "0.05",
}


@dataclass
class WorkerPool:
    """`python manage.py worker` processes over one database, each in a session of its own;
    every one is killed at teardown."""

    tmp_path: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, database: Database, *, count: int = 1, **extra_env: str) -> list[Any]:
        started = []
        for _ in range(count):
            log = self.tmp_path / f"worker-{len(self.processes)}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [PYTHON, "manage.py", "worker", "--no-startup-delay"],
                    cwd=ROOT,
                    env=database.env(**{**WEBHOOK_TEST_ENV, **extra_env}),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self.processes.append(process)
            started.append(process)
        return started

    @staticmethod
    def kill(process: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.kill(process)


def _wait_until_healthy(server: Server, *, workers: int, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not server.alive:
            raise AssertionError(f"gunicorn exited early:\n{server.log_text()[-3000:]}")
        with contextlib.suppress(requests.RequestException):
            healthy = requests.get(f"{server.url}/healthz", timeout=2).status_code == 200
            if healthy and len(server.worker_pids()) >= workers:
                return
        time.sleep(0.2)
    raise AssertionError(f"gunicorn not healthy in {within}s:\n{server.log_text()[-3000:]}")


def wait_for(predicate: Callable[[], bool], *, within: float = 30, every: float = 0.2) -> bool:
    """Poll `predicate` until it holds or `within` seconds have passed; whether it held."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return predicate()


# --- Clients ---------------------------------------------------------------------------


@dataclass
class Outcome:
    """One request's result: a status and JSON body, or the client-side error it raised."""

    status: int | None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    content_type: str = ""
    started: float = 0.0
    finished: float = 0.0

    @property
    def code(self) -> str | None:
        return self.body.get("code") if isinstance(self.body, dict) else None


_sessions = threading.local()


def call(
    method: str,
    url: str,
    *,
    token: str | None = None,
    timeout: float = CLIENT_TIMEOUT,
    **kwargs: Any,
) -> Outcome:
    """One HTTP request with a per-thread session; never raises for a network failure
    (a response slower than `timeout` seconds is an Outcome with error='ReadTimeout')."""
    session = getattr(_sessions, "session", None)
    if session is None:
        session = _sessions.session = requests.Session()
    headers = dict(kwargs.pop("headers", {}) or {})
    if token:
        headers["Authorization"] = f"Token {token}"
    started = time.monotonic()
    try:
        response = session.request(method, url, headers=headers, timeout=timeout, **kwargs)
    except requests.RequestException as exc:
        return Outcome(
            status=None,
            error=type(exc).__name__,
            started=started,
            finished=time.monotonic(),
        )
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    return Outcome(
        status=response.status_code,
        body=body,
        headers=dict(response.headers),
        content_type=response.headers.get("Content-Type", ""),
        started=started,
        finished=time.monotonic(),
    )


def run_concurrently(
    jobs: Sequence[Callable[[], T]], *, threads: int = 48, within: float = 150
) -> list[T]:
    """Run every job on a bounded thread pool; results in the order of `jobs`."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(job) for job in jobs]
        deadline = time.monotonic() + within
        return [f.result(timeout=max(1.0, deadline - time.monotonic())) for f in futures]


# Every summary line of the run, repeated at the end of pytest's report (see conftest.py).
SUMMARIES: list[str] = []


def summary(name: str, outcomes: list[Outcome], elapsed: float, **figures: Any) -> str:
    """One line of figures for the CI log."""
    statuses = Counter(str(o.status) if o.status else o.error for o in outcomes)
    durations = sorted(o.finished - o.started for o in outcomes) or [0.0]
    p50 = durations[len(durations) // 2]
    p99 = durations[min(len(durations) - 1, int(len(durations) * 0.99))]
    extra = " ".join(f"{key}={value}" for key, value in figures.items())
    line = (
        f"[{name}] requests={len(outcomes)} statuses={dict(sorted(statuses.items()))} "
        f"p50={p50 * 1000:.0f}ms p99={p99 * 1000:.0f}ms max={durations[-1] * 1000:.0f}ms "
        f"elapsed={elapsed:.1f}s {extra}"
    ).rstrip()
    print(line)
    SUMMARIES.append(line)
    return line


# --- nginx in front ----------------------------------------------------------------------

NGINX_TEMPLATE = ROOT / "deploy" / "nginx" / "opply.conf.template"


def nginx_binary() -> str | None:
    """Debian's nginx (`.ci/run` and `make test` install it when it is missing)."""
    return shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/usr/local/sbin")


def render_nginx_template(text: str, **values: str) -> str:
    """Fill in ${NAME} for the given names only, as the nginx image's templates do; nginx's
    own $variables are left alone."""
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    return text


@dataclass
class Nginx:
    """A real nginx running the committed configuration (deploy/nginx), in the foreground."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    @classmethod
    def start(cls, tmp_path: Path, *, upstream: str) -> Nginx:
        binary = nginx_binary()
        assert binary, "nginx is missing: `make test` and .ci/run install Debian's nginx"
        prefix = tmp_path / "nginx"
        for directory in ("logs", "temp/body", "temp/proxy"):
            (prefix / directory).mkdir(parents=True, exist_ok=True)
        port = free_port()
        (prefix / "opply.conf").write_text(
            render_nginx_template(
                NGINX_TEMPLATE.read_text(),
                OPPLY_LISTEN_PORT=f"127.0.0.1:{port}",
                OPPLY_UPSTREAM=upstream,
            )
        )
        # The main file the nginx image (or a Debian host) provides around the committed one.
        main = [
            "worker_processes 1;",
            f"pid {prefix}/nginx.pid;",
            f"error_log {prefix}/logs/error.log warn;",
            "events { worker_connections 1024; }",
            "http {",
            f"  access_log {prefix}/logs/access.log;",
            f"  client_body_temp_path {prefix}/temp/body;",
            f"  proxy_temp_path {prefix}/temp/proxy;",
            "  fastcgi_temp_path /tmp; uwsgi_temp_path /tmp; scgi_temp_path /tmp;",
            f"  include {prefix}/opply.conf;",
            "}",
        ]
        if os.geteuid() == 0:
            main.insert(0, "user root;")  # the test's temporary directory is root's only
        (prefix / "nginx.conf").write_text("\n".join(main) + "\n")
        log = prefix / "logs" / "stderr.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    binary,
                    "-p",
                    str(prefix),
                    "-c",
                    str(prefix / "nginx.conf"),
                    "-e",
                    "stderr",
                    "-g",
                    "daemon off;",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        nginx = cls(process=process, port=port, log=log)

        def listening() -> bool:
            assert process.poll() is None, nginx.log_text()
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                return True
            return False

        assert wait_for(listening, within=20), nginx.log_text()
        return nginx

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGQUIT)  # graceful: finish what is in flight
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
