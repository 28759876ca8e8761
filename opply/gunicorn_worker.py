"""gunicorn workers that answer in the API's JSON even when gunicorn refuses a request itself.

gunicorn rejects some requests before the application sees them (a header over its size
limit, a control character in a header, two Host headers, Content-Length with
Transfer-Encoding, an over-long request line) and, stock, answers them with an HTML page.
These workers keep every one of those limits and answer with the API's error body
(`opply.exceptions.error_body`) and an `X-Request-ID`, like every other error.

They also bound how long one client can hold a worker while it sends its request:

- the request head (request line and headers) must arrive within `GUNICORN_READ_TIMEOUT`
  seconds of its first byte, else `408 request_timeout`;
- the body is read in full before the application runs, within the same time, else
  `408 request_timeout`; a client that closes before sending all of its Content-Length gets
  `400 incomplete_body`, one that announces more than `MAX_BODY_BYTES` gets
  `413 request_too_large` without being read.

A stalled client therefore costs a worker (or a thread) at most `GUNICORN_READ_TIMEOUT`
seconds, never the 30 s worker timeout and its HTML 500. The deployed shapes also put nginx in
front (docs/deployment.md), which buffers slow clients so they never reach a worker at all.

Every line logged while a request is served, gunicorn's included, carries its request id: the
worker sets it (the client's sane `X-Request-ID` or a new one) before the application runs,
and `opply.wsgi` and `RequestIDMiddleware` reuse it.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import select
import socket
import time
from contextvars import ContextVar
from typing import Any

from gunicorn import util
from gunicorn.http import errors as http_errors
from gunicorn.http.body import Body
from gunicorn.workers import gthread, sync

from opply.request_id import REQUEST_ID_HEADER, accept_or_generate, current_request_id

# Seconds a client has to send its request head, and then its body.
READ_TIMEOUT = float(os.environ.get("GUNICORN_READ_TIMEOUT", "10"))
# Bodies larger than this are refused unread: Django refuses non-file bodies over its
# DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MiB) anyway, and the API takes no file uploads.
MAX_BODY_BYTES = 2_621_440
# How much of the head is looked at while waiting for it (gunicorn enforces the real limits).
_HEAD_PEEK_BYTES = 65_536
_HEAD_END = b"\r\n\r\n"

access_logger = logging.getLogger("opply.access")

# gthread's answer for "no data yet, park this connection on the poller".
_DEFER = gthread._DEFER


class RequestTimeout(Exception):
    """The client did not send its request head or body in time."""


class IncompleteBody(Exception):
    """The client closed its side before sending the body its Content-Length announced."""


class BodyTooLarge(Exception):
    """The body announced (or sent) is larger than MAX_BODY_BYTES."""


# (gunicorn's exceptions, status, reason phrase, code, detail); the first match wins, and
# a client error not listed is a 400 bad_request with gunicorn's own description.
_REFUSALS: tuple[tuple[tuple[type[BaseException], ...], int, str, str, str | None], ...] = (
    ((RequestTimeout,), 408, "Request Timeout", "request_timeout", None),
    ((IncompleteBody,), 400, "Bad Request", "incomplete_body", None),
    ((BodyTooLarge,), 413, "Content Too Large", "request_too_large", None),
    (
        (http_errors.LimitRequestHeaders,),
        431,
        "Request Header Fields Too Large",
        "request_header_too_large",
        None,
    ),
    ((http_errors.LimitRequestLine,), 414, "URI Too Long", "uri_too_long", None),
    (
        (http_errors.UnsupportedTransferCoding,),
        501,
        "Not Implemented",
        "unsupported_transfer_coding",
        None,
    ),
    ((http_errors.ExpectationFailed,), 417, "Expectation Failed", "expectation_failed", None),
    ((http_errors.ForbiddenProxyRequest,), 403, "Forbidden", "permission_denied", None),
    (
        (http_errors.InvalidResponseHeader, http_errors.InvalidResponseHeaderName),
        500,
        "Internal Server Error",
        "server_error",
        "",
    ),
    ((http_errors.ConfigurationProblem,), 500, "Internal Server Error", "server_error", ""),
)
_DETAILS = {
    "request_timeout": "The request was not received in time.",
    "incomplete_body": "The request body is shorter than its Content-Length.",
    "request_too_large": f"The request body is larger than {MAX_BODY_BYTES} bytes.",
    "request_header_too_large": "A request header is too large.",
    "uri_too_long": "The request line (URL) is too long.",
    "server_error": "Internal server error.",
}
_CLIENT_ERRORS = (http_errors.ParseException, TimeoutError)


def _classify(exc: BaseException) -> tuple[int, str, str, str]:
    """(status, reason phrase, code, detail) of the answer to a request that failed with exc."""
    for kinds, status, reason, code, detail in _REFUSALS:
        if isinstance(exc, kinds):
            return status, reason, code, detail or _DETAILS.get(code) or f"Malformed request: {exc}"
    if isinstance(exc, _CLIENT_ERRORS):
        return 400, "Bad Request", "bad_request", f"Malformed request: {exc}"
    return 500, "Internal Server Error", "server_error", _DETAILS["server_error"]


def _header(req: Any, name: str) -> str | None:
    for key, value in getattr(req, "headers", None) or ():
        if key == name.upper():
            return str(value)
    return None


# The request head as it arrived, for the request id of a request gunicorn could not parse.
_head_seen: ContextVar[bytes] = ContextVar("head_seen", default=b"")
_REQUEST_ID_LINE = re.compile(rb"\r\nx-request-id:[ \t]*([^\r\n]*)", re.IGNORECASE)


def _request_id_of(req: Any) -> str:
    candidate = _header(req, REQUEST_ID_HEADER)
    if candidate is None and (found := _REQUEST_ID_LINE.search(_head_seen.get())):
        candidate = found.group(1).decode("latin-1").strip()
    return accept_or_generate(candidate)


def _error_body(detail: str, code: str) -> dict[str, Any]:
    try:  # The one envelope of the API, once Django is loaded (always, in a serving worker).
        from opply.exceptions import error_body
    except Exception:  # pragma: no cover - Django failed to load; keep answering in JSON
        body = {"detail": detail, "code": code}
        if request_id := current_request_id.get():
            body["request_id"] = request_id
        return body
    return error_body(detail, code)


def _send_json_error(sock: socket.socket, status: int, reason: str, body: dict[str, Any]) -> None:
    payload = json.dumps(body, separators=(",", ":")).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n"
        "Cache-Control: no-store\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        f"{REQUEST_ID_HEADER}: {body.get('request_id', '')}\r\n"
        "\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + payload)


def _await_head(sock: socket.socket, timeout: float) -> bool:
    """Wait until the request head has arrived, without consuming it; False if it did not
    within `timeout` seconds. A closed connection or a head over the peek size returns True:
    gunicorn's parser then sees the end of the stream or its own limits. What arrived is kept
    in `_head_seen`."""
    deadline = time.monotonic() + timeout
    seen = -1
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        readable, _, _ = select.select([sock], [], [], remaining)
        if not readable:
            return False
        try:
            data = sock.recv(_HEAD_PEEK_BYTES, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            continue
        except OSError:
            return True
        _head_seen.set(data)
        if not data or _HEAD_END in data or len(data) >= _HEAD_PEEK_BYTES:
            return True
        if len(data) == seen:
            # Readable only because of bytes already peeked at: wait for more to arrive.
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        seen = len(data)


def _buffer_body(req: Any, sock: socket.socket, timeout: float) -> None:
    """Read the whole request body into memory within `timeout` seconds, so that the
    application never waits on the client."""
    if req.body is None:
        return
    announced = _header(req, "Content-Length")
    expected = int(announced) if announced is not None and announced.isdigit() else None
    if expected is not None and expected > MAX_BODY_BYTES:
        raise BodyTooLarge
    if getattr(req, "_expected_100_continue", False):
        # The client waits for this before sending its body; gunicorn would send it only once
        # the application starts, which is after the body has been read here.
        util.write(sock, b"HTTP/1.1 100 Continue\r\n\r\n")
        req._expected_100_continue = False
    deadline = time.monotonic() + timeout
    chunks, total = [], 0
    previous_timeout = sock.gettimeout()
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RequestTimeout
            sock.settimeout(remaining)
            try:
                chunk = req.body.read(65_536)
            except TimeoutError as exc:
                raise RequestTimeout from exc
            except http_errors.NoMoreData as exc:
                raise IncompleteBody from exc
            if not chunk:
                break
            total += len(chunk)
            if total > MAX_BODY_BYTES:
                raise BodyTooLarge
            chunks.append(chunk)
    finally:
        sock.settimeout(previous_timeout)
    if expected is not None and total < expected:
        raise IncompleteBody
    req.body = Body(io.BytesIO(b"".join(chunks)))


def _queued_connections(listener: Any, deadline: float) -> Any:
    """Accept what is waiting on a listening socket, without waiting for more."""
    listener.setblocking(False)
    while time.monotonic() < deadline:
        try:
            yield listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return


class JsonErrorsMixin:
    """What both worker classes share: the JSON refusals, the bounded reads, the request id."""

    log: Any
    cfg: Any
    read_timeout = READ_TIMEOUT

    def _begin_request(self, req: Any, sock: socket.socket) -> None:
        """Stamp the request id for everything logged from here on, then read the body."""
        current_request_id.set(_request_id_of(req))
        _buffer_body(req, sock, self.read_timeout)

    def _refuse_late_head(self, sock: socket.socket, addr: Any) -> None:
        self.handle_error(None, sock, addr, RequestTimeout("no complete request head in time"))

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        if req is None:
            req = getattr(exc, "req", None)
        request_id = current_request_id.get() or _request_id_of(req)
        current_request_id.set(request_id)
        status, reason, code, detail = _classify(exc)
        ip = (addr or ("", -1))[0] if isinstance(addr, tuple) else addr
        if status >= 500:
            where = f"{getattr(req, 'method', '')} {getattr(req, 'uri', '')}".strip()
            self.log.exception("Error handling request %s", where or "(no URI read)")
        else:
            self.log.warning("Invalid request from ip=%s: %s (%s)", ip, str(exc) or detail, status)
        access_logger.log(
            logging.ERROR if status >= 500 else logging.INFO,
            "%s %s %s",
            getattr(req, "method", None),
            getattr(req, "path", None),
            status,
            extra={
                "method": getattr(req, "method", None),
                "path": getattr(req, "path", None),
                "status": status,
                "duration_ms": None,
                "user_id": None,
            },
        )
        try:
            _send_json_error(client, status, reason, _error_body(detail, code))
        except Exception:
            self.log.debug("Failed to send error message.")


class SyncWorker(JsonErrorsMixin, sync.SyncWorker):
    """gunicorn's sync worker (one request at a time per process) with JSON refusals."""

    def run(self) -> None:
        super().run()
        # Stopping (SIGTERM): connections already queued on the listening socket are served,
        # not reset when this process closes it.
        deadline = time.monotonic() + self.cfg.graceful_timeout
        for listener in self.sockets:
            for client, addr in _queued_connections(listener, deadline):
                client.setblocking(True)
                self.handle(listener, client, addr)

    def handle(self, listener: Any, client: socket.socket, addr: Any) -> None:
        try:
            if not self.cfg.is_ssl and not _await_head(client, self.read_timeout):
                self._refuse_late_head(client, addr)
                util.close_graceful(client)
                return
            super().handle(listener, client, addr)
        finally:
            current_request_id.set(None)
            _head_seen.set(b"")

    def handle_request(self, listener: Any, req: Any, client: socket.socket, addr: Any) -> None:
        self._begin_request(req, client)
        super().handle_request(listener, req, client, addr)


class ThreadWorker(JsonErrorsMixin, gthread.ThreadWorker):
    """gunicorn's gthread worker (a pool of threads per process) with JSON refusals."""

    def _cap_keepalive(self, deadline: float) -> None:
        # Called once as the worker starts stopping (SIGTERM), before it waits for its
        # connections to finish: connections still queued on the listening socket join them,
        # so they are served rather than reset when the socket closes.
        super()._cap_keepalive(deadline)
        if self.alive:
            return
        for listener in self.sockets:
            for client, addr in _queued_connections(listener, deadline):
                self.nr_conns += 1
                client.setblocking(True)
                self.enqueue_req(gthread.TConn(self.cfg, client, addr, listener.getsockname()))

    def handle(self, conn: Any) -> Any:
        try:
            if not self.cfg.is_ssl and not conn.is_http2:
                if not conn.wait_for_data(gthread.DEFAULT_WORKER_DATA_TIMEOUT):
                    # Nothing sent yet: gunicorn parks an idle new connection on its poller
                    # (no thread held); a kept-alive one it closes.
                    return super().handle(conn) if conn.initialized else _DEFER
                if not _await_head(conn.sock, self.read_timeout):
                    self._refuse_late_head(conn.sock, conn.client)
                    return False
            return super().handle(conn)
        finally:
            current_request_id.set(None)
            _head_seen.set(b"")

    def handle_request(self, req: Any, conn: Any) -> Any:
        self._begin_request(req, conn.sock)
        return super().handle_request(req, conn)
