"""The committed nginx configuration (deploy/nginx), run by a real nginx in front of a real
gunicorn: its own errors are the API's JSON with an X-Request-ID, and clients that stall
while sending their request do not delay anyone else."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import (
    SUMMARIES,
    Database,
    Nginx,
    ServerFarm,
    call,
    free_port,
    nginx_binary,
)
from tests.test_gunicorn_edges import exchange

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(
        nginx_binary() is None,
        reason="needs nginx (Debian's package: `make test` and .ci/run install it)",
    ),
]


@pytest.fixture
def nginx_in_front(
    system_database: Database, farm: ServerFarm, tmp_path: Path
) -> Iterator[tuple[Nginx, int]]:
    """gunicorn with one worker of two threads, and nginx in front; (nginx, gunicorn port)."""
    [server] = farm.start(system_database, workers=1, GUNICORN_THREADS="2")
    nginx = Nginx.start(tmp_path, upstream=f"127.0.0.1:{server.port}")
    try:
        yield nginx, server.port
    finally:
        nginx.stop()


def _json_error(answer: tuple[int, dict[str, str], object], status: int, code: str) -> str:
    got_status, headers, body = answer
    assert (got_status, headers.get("content-type")) == (status, "application/json"), answer
    assert isinstance(body, dict), answer
    assert body["code"] == code, body
    assert body["request_id"] == headers["x-request-id"]
    return headers["x-request-id"]


def test_nginx_passes_requests_and_answers_its_own_errors_in_json(
    nginx_in_front: tuple[Nginx, int], tmp_path: Path
):
    nginx, _ = nginx_in_front
    host = f"Host: 127.0.0.1:{nginx.port}\r\n"
    health = call("GET", f"{nginx.url}/healthz", headers={"X-Request-ID": "via-nginx"})
    assert health.status == 200
    assert health.headers["X-Request-ID"] == "via-nginx"
    # An id nginx generates reaches the application, which answers with it.
    refused = call("GET", f"{nginx.url}/products/")
    assert refused.status == 401
    assert refused.body["request_id"] == refused.headers["X-Request-ID"]
    assert len(refused.headers["X-Request-ID"]) == 32

    big_header = f"GET /healthz HTTP/1.1\r\n{host}X-Big: {'a' * 9000}\r\n\r\n"
    _json_error(exchange(nginx.port, big_header.encode()), 431, "request_header_too_large")
    too_large = f"POST /token/ HTTP/1.1\r\n{host}Content-Length: 999999999\r\n\r\n"
    _json_error(exchange(nginx.port, too_large.encode()), 413, "request_too_large")
    two_hosts = f"GET /healthz HTTP/1.1\r\nX-Request-ID: n-1\r\n{host}Host: other\r\n\r\n"
    assert _json_error(exchange(nginx.port, two_hosts.encode()), 400, "bad_request") == "n-1"
    both = (
        f"POST /token/ HTTP/1.1\r\n{host}Content-Length: 5\r\n"
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    )
    _json_error(exchange(nginx.port, both.encode()), 400, "bad_request")
    # A request line nginx lets through but gunicorn refuses: gunicorn's JSON, through nginx.
    long_query = f"GET /healthz?q={'a' * 5000} HTTP/1.1\r\n{host}Connection: close\r\n\r\n"
    _json_error(exchange(nginx.port, long_query.encode()), 414, "uri_too_long")

    # Nothing listening upstream: a JSON 503 with Retry-After, not nginx's HTML 502.
    orphan = Nginx.start(tmp_path / "orphan", upstream=f"127.0.0.1:{free_port()}")
    try:
        answer = exchange(orphan.port, f"GET /healthz HTTP/1.1\r\n{host}\r\n".encode())
    finally:
        orphan.stop()
    _json_error(answer, 503, "service_unavailable")
    assert answer[1]["retry-after"] == "5"


SLOW_CLIENTS = 50


def test_fifty_stalled_clients_do_not_delay_healthz(nginx_in_front: tuple[Nginx, int]):
    """Half the clients stop half way through their headers, half half way through their
    body; gunicorn has one worker with two threads. /healthz through nginx still answers
    promptly: nginx holds the stalled clients, gunicorn never sees them."""
    nginx, _ = nginx_in_front
    host = f"Host: 127.0.0.1:{nginx.port}\r\n"
    stalled = []
    try:
        for index in range(SLOW_CLIENTS):
            sock = socket.create_connection(("127.0.0.1", nginx.port), timeout=10)
            if index % 2:
                sock.sendall(f"GET /healthz HTTP/1.1\r\n{host}X-Slow: ".encode())
            else:
                sock.sendall(
                    f"POST /token/ HTTP/1.1\r\n{host}Content-Type: application/json\r\n"
                    'Content-Length: 1000\r\n\r\n{"username": '.encode()
                )
            stalled.append(sock)
        time.sleep(0.5)  # every stalled request has reached nginx
        probes = [call("GET", f"{nginx.url}/healthz") for _ in range(5)]
    finally:
        for sock in stalled:
            sock.close()
    durations = [probe.finished - probe.started for probe in probes]
    line = (
        f"[nginx-slow-clients] stalled={SLOW_CLIENTS} healthz statuses="
        f"{[probe.status for probe in probes]} max={max(durations) * 1000:.0f}ms"
    )
    print(line)
    SUMMARIES.append(line)
    assert [probe.status for probe in probes] == [200] * 5
    # The promise (docs/guarantees.md): under a second, with stalled clients around.
    assert max(durations) < 1.0, durations
