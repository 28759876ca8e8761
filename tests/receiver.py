"""A webhook receiver on 127.0.0.1 for the tests: records every request it gets and answers
what the test tells it to (a status per request, a pause, a redirect)."""

from __future__ import annotations

import json
import threading
import time
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

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)

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

    def __post_init__(self) -> None:
        self.gate.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def succeeded(self) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.completed and 200 <= r.status < 300]

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length", 0))
        body = handler.rfile.read(length)
        request = Received(
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=body,
            at=time.time(),
            status=0,
            completed=False,
        )
        with self.lock:
            seen = sum(
                1
                for r in self.requests
                if r.headers.get("webhook-id") == request.headers.get("webhook-id")
            )
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


@contextmanager
def receiving(receiver: Receiver | None = None, port: int = 0) -> Iterator[Receiver]:
    receiver = receiver or Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver.handle(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.gate.set()
        server.shutdown()
        server.server_close()
