"""A webhook receiver on 127.0.0.1 for the tests: records every request it gets and answers
what the test tells it to (a status per request, a pause, a redirect)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float
    status: int
    completed: bool = True
    client_port: int = 0
    event: dict[str, Any] = field(default_factory=dict)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    """`answer(received_so_far_for_this_id, request)` gives the status; 200 by default."""

    answer: Callable[[int, Received], int] = lambda seen, request: 200
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    gate: threading.Event = field(default_factory=threading.Event)
    waiting: int = 0
    extra_headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    port: int = 0
    seen: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.gate.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def succeeded(self) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.completed and 200 <= r.status < 300]

    def delivered_event_ids(self) -> set[int]:
        return {r.event["id"] for r in self.succeeded()}

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length", 0))
        body = handler.rfile.read(length)
        request = Received(
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=body,
            at=time.time(),
            status=0,
            completed=False,
            client_port=handler.client_address[1],
            event=json.loads(body) if body else {},
        )
        webhook_id = request.headers.get("webhook-id", "")
        with self.lock:
            seen = self.seen[webhook_id]
            self.seen[webhook_id] += 1
            self.requests.append(request)
            self.waiting += 1
        self.gate.wait(60)
        with self.lock:
            self.waiting -= 1
        request.status = self.answer(seen, request)
        try:
            handler.send_response(request.status)
            for name, value in self.extra_headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(self.body)))
            handler.end_headers()
            handler.wfile.write(self.body)
            handler.wfile.flush()
            request.completed = True
        except OSError:
            request.completed = False


def local_ports_of(pid: int) -> set[int]:
    """The local TCP ports of a process's sockets (Linux /proc), to tell which worker sent
    a request."""
    import os

    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                if fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


@contextmanager
def receiving(receiver: Receiver | None = None, port: int = 0) -> Iterator[Receiver]:
    running = receiver or Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            running.handle(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    running.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield running
    finally:
        running.gate.set()
        server.shutdown()
        server.server_close()
