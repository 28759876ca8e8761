"""What reaches a real gunicorn before the application does: malformed requests get the API's
JSON error body and an X-Request-ID (not gunicorn's HTML pages), a client that stops sending
gets a bounded 408 (not a worker held until its 30 s timeout and an HTML 500), every log line
of a request carries its id, queued connections are served on SIGTERM, and the server's
configuration comes from `.env` with a clear line when the port is taken."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.servers import GUNICORN, ROOT, Database, Server, ServerFarm, free_port, wait_for

READ_TIMEOUT = "2"


def exchange(port: int, data: bytes, *, then: bytes = b"", close_after_send: bool = False) -> Any:
    """Send raw bytes, read the whole answer; (status, headers, parsed JSON body or text)."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(data)
        if then:
            sock.sendall(then)
        if close_after_send:
            sock.shutdown(socket.SHUT_WR)
        return read_response(sock)


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], Any]:
    """One response: its head, then as much body as its Content-Length says (or up to the
    end of the connection); the server may reset the connection once it has answered."""
    received = b""
    while b"\r\n\r\n" not in received and (chunk := sock.recv(65536)):
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", -1))
    while (length < 0 or len(body) < length) and (chunk := sock.recv(65536)):
        body += chunk
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        parsed = body.decode("latin-1")
    return int(status_line.split()[1]), headers, parsed


def _host(port: int) -> str:
    return f"Host: 127.0.0.1:{port}\r\n"


MALFORMED: dict[str, tuple[str, int, str]] = {
    # name: (request, status, code)
    "a 9,000-byte header": (
        "GET /healthz HTTP/1.1\r\n{host}X-Big: " + "a" * 9000 + "\r\n\r\n",
        431,
        "request_header_too_large",
    ),
    "a control character in a header": (
        "GET /healthz HTTP/1.1\r\n{host}X-Bad: a\x01b\r\n\r\n",
        400,
        "bad_request",
    ),
    "two Host headers": ("GET /healthz HTTP/1.1\r\n{host}Host: other\r\n\r\n", 400, "bad_request"),
    "Content-Length with Transfer-Encoding": (
        "POST /token/ HTTP/1.1\r\n{host}Content-Length: 5\r\n"
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        "bad_request",
    ),
    "a 5,000-byte query string": (
        "GET /healthz?q=" + "a" * 5000 + " HTTP/1.1\r\n{host}\r\n",
        414,
        "uri_too_long",
    ),
    "a body shorter than its Content-Length": (
        "POST /token/ HTTP/1.1\r\n{host}Content-Type: application/json\r\n"
        'Content-Length: 100\r\n\r\n{{"username":',
        408,
        "request_timeout",
    ),
    "a request head that never ends": (
        "GET /healthz HTTP/1.1\r\n{host}X-Slow: yes\r\n",
        408,
        "request_timeout",
    ),
}


def _assert_json_error(answer: Any, status: int, code: str) -> str:
    got_status, headers, body = answer
    assert (got_status, headers.get("content-type"), type(body)) == (
        status,
        "application/json",
        dict,
    ), answer
    assert body["code"] == code, body
    assert body["detail"]
    assert body["request_id"] == headers["x-request-id"]
    return str(headers["x-request-id"])


@pytest.mark.system
@pytest.mark.parametrize("worker_class", ["gthread", "sync"])
def test_requests_gunicorn_refuses_get_the_json_error_body_and_a_request_id(
    system_database: Database, farm: ServerFarm, worker_class: str
):
    [server] = farm.start(
        system_database,
        workers=1,
        GUNICORN_WORKER_CLASS=worker_class,
        GUNICORN_READ_TIMEOUT=READ_TIMEOUT,
    )
    for name, (request, status, code) in MALFORMED.items():
        answer = exchange(server.port, request.format(host=_host(server.port)).encode())
        assert _assert_json_error(answer, status, code), name

    # A client that gives up half way through its body gets a 400 at once.
    answer = exchange(
        server.port,
        f"POST /token/ HTTP/1.1\r\n{_host(server.port)}Content-Length: 50\r\n\r\n{{".encode(),
        close_after_send=True,
    )
    _assert_json_error(answer, 400, "incomplete_body")
    # A body over the limit is refused unread.
    answer = exchange(
        server.port,
        f"POST /token/ HTTP/1.1\r\n{_host(server.port)}Content-Length: 999999999\r\n\r\n".encode(),
    )
    _assert_json_error(answer, 413, "request_too_large")
    # The client's own sane request id is kept, even on a refusal.
    answer = exchange(
        server.port,
        f"GET /healthz HTTP/1.1\r\n{_host(server.port)}X-Request-ID: probe-7\r\n"
        "Host: other\r\n\r\n".encode(),
    )
    assert _assert_json_error(answer, 400, "bad_request") == "probe-7"

    # The worker survived all of it and still serves the application (a body sent in parts
    # within the time allowed is read whole).
    body = b'{"username": "nobody", "password": "wrong"}'
    answer = exchange(
        server.port,
        f"POST /token/ HTTP/1.1\r\n{_host(server.port)}Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body[:10],
        then=body[10:],
    )
    assert (answer[0], answer[2]["code"]) == (401, "authentication_failed"), answer
    # A client that waits for "100 Continue" before sending its body gets it first.
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(
            f"POST /token/ HTTP/1.1\r\n{_host(server.port)}Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n".encode()
        )
        assert sock.recv(25) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        answer = read_response(sock)
    assert (answer[0], answer[2]["code"]) == (401, "authentication_failed"), answer
    assert server.alive
    assert "WORKER TIMEOUT" not in server.log_text()


def _log_lines(server: Server) -> list[dict[str, Any]]:
    lines = []
    for line in server.log_text().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


@pytest.mark.system
def test_every_line_logged_while_serving_a_request_carries_its_request_id(
    system_database: Database, farm: ServerFarm, tmp_path: Path
):
    # A database that cannot be opened: /readyz answers 503, which django.request logs after
    # the middleware is done with the request.
    [server] = farm.start(
        system_database,
        workers=1,
        database_url=f"sqlite:///{tmp_path}/missing/directory/db.sqlite3",
        GUNICORN_READ_TIMEOUT=READ_TIMEOUT,
    )
    port = server.port
    chosen = exchange(
        port, f"GET /readyz HTTP/1.1\r\n{_host(port)}X-Request-ID: log-503\r\n\r\n".encode()
    )
    generated = exchange(port, f"GET /readyz HTTP/1.1\r\n{_host(port)}\r\n".encode())
    # gunicorn's own line for a request it refuses.
    refused = exchange(
        port,
        f"GET /healthz HTTP/1.1\r\n{_host(port)}X-Request-ID: log-400\r\nHost: x\r\n\r\n".encode(),
    )
    assert (chosen[0], generated[0], refused[0]) == (503, 503, 400)
    generated_id = generated[1]["x-request-id"]
    assert generated[2]["request_id"] == generated_id

    def ids(logger: str, fragment: str) -> list[Any]:
        return [
            line["request_id"]
            for line in _log_lines(server)
            if line["logger"] == logger and fragment in line["message"]
        ]

    assert wait_for(lambda: len(ids("django.request", "Service Unavailable")) == 2)
    assert ids("django.request", "Service Unavailable") == ["log-503", generated_id]
    assert ids("gunicorn.error", "Invalid request") == ["log-400"]


@pytest.mark.system
@pytest.mark.parametrize(
    ("worker_class", "stop"),
    [("sync", "SIGTERM"), ("gthread", "SIGTERM"), ("sync", "Ctrl-C")],
)
def test_sigterm_serves_in_flight_and_queued_connections(
    system_database: Database, farm: ServerFarm, worker_class: str, stop: str
):
    """One worker with one thread is reading a request's body while three more connections
    wait in the listening socket's queue; SIGTERM arrives (or Ctrl-C, a SIGINT to every
    process of the group, as under `make run`); all four are answered."""
    [server] = farm.start(
        system_database,
        workers=1,
        GUNICORN_WORKER_CLASS=worker_class,
        GUNICORN_THREADS="1",
        GUNICORN_READ_TIMEOUT="10",
        GUNICORN_GRACEFUL_TIMEOUT="20",
    )
    body = b'{"username": "nobody", "password": "wrong"}'
    head = (
        f"POST /token/ HTTP/1.1\r\n{_host(server.port)}Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    clients = []
    for _ in range(4):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        sock.sendall(head + body[:5])
        clients.append(sock)
    try:
        time.sleep(0.5)  # the worker picks up the first connection and waits for its body
        if stop == "SIGTERM":
            os.kill(server.process.pid, signal.SIGTERM)
        else:
            os.killpg(server.process.pid, signal.SIGINT)
        time.sleep(1.0)  # the master has told the worker to stop
        for sock in clients:
            sock.sendall(body[5:])
        answers = [read_response(sock) for sock in clients]
    finally:
        for sock in clients:
            sock.close()
    assert [(status, body["code"]) for status, _, body in answers] == [
        (401, "authentication_failed")
    ] * 4
    assert server.process.wait(timeout=30) == 0


# --- Configuration from .env -------------------------------------------------------------


def _gunicorn_with_env_file(tmp_path: Path, env_file: str, **env: str) -> subprocess.Popen[bytes]:
    """gunicorn with a copy of the committed configuration beside its own `.env`."""
    shutil.copy(ROOT / "gunicorn.conf.py", tmp_path / "gunicorn.conf.py")
    (tmp_path / ".env").write_text(env_file)
    database = Database.sqlite(tmp_path)
    base = database.env(**env)
    # ENV_FILE too: the suite reads no .env, but this gunicorn is meant to read its own.
    for name in ("PORT", "HOST", "WEB_CONCURRENCY", "ENV_FILE"):
        base.pop(name, None)
    base.update(env)
    return subprocess.Popen(
        [GUNICORN, "--config", str(tmp_path / "gunicorn.conf.py"), "opply.wsgi"],
        cwd=ROOT,
        env=base,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@pytest.mark.system
def test_port_workers_and_gunicorn_settings_come_from_env_file(tmp_path: Path):
    port = free_port()
    process = _gunicorn_with_env_file(
        tmp_path,
        f"PORT={port}\nWEB_CONCURRENCY=3\nGUNICORN_WORKER_CLASS=sync\nGUNICORN_LOG_LEVEL=info\n",
    )
    server = Server(process=process, port=port, log=tmp_path / "unused.log")
    try:
        assert wait_for(lambda: len(server.worker_pids()) == 3 or not server.alive, within=60)
        assert server.alive
        answer = exchange(port, f"GET /healthz HTTP/1.1\r\n{_host(port)}\r\n".encode())
        assert answer[0] == 200
    finally:
        server.stop()
    output = process.stdout.read().decode() if process.stdout else ""
    assert "Using worker: opply.gunicorn_worker.SyncWorker" in output


@pytest.mark.system
def test_the_environment_wins_over_env_file(tmp_path: Path):
    port = free_port()
    process = _gunicorn_with_env_file(tmp_path, "PORT=1\nWEB_CONCURRENCY=2\n", PORT=str(port))
    server = Server(process=process, port=port, log=tmp_path / "unused.log")
    try:
        assert wait_for(lambda: len(server.worker_pids()) == 2 or not server.alive, within=60)
        assert exchange(port, f"GET /healthz HTTP/1.1\r\n{_host(port)}\r\n".encode())[0] == 200
    finally:
        server.stop()


@pytest.mark.system
def test_a_port_in_use_is_one_line_naming_it_and_how_to_choose_another(tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = _gunicorn_with_env_file(tmp_path, f"PORT={port}\n")
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 1
    assert output.decode().splitlines() == [
        f"Port {port} on 127.0.0.1 is already in use: stop what is using it, or choose another "
        f"port with PORT=<port> (e.g. `PORT={port + 1} make run`, or PORT= in .env)."
    ]


def test_the_makefile_leaves_the_port_to_env_file_and_the_environment():
    env = {key: value for key, value in os.environ.items() if key != "PORT"}
    shown = subprocess.run(
        [
            "make",
            "-s",
            "--no-print-directory",
            "--eval",
            "origin-of-port: ; @echo $(origin PORT)",
            "origin-of-port",
        ],
        cwd=ROOT,
        env={**env, "MAKEFLAGS": ""},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert shown.stdout.strip() == "undefined"
