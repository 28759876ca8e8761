"""One signed POST of an event to a webhook endpoint (the Standard Webhooks specification).

The connection goes to an address checked by `events.ssrf` (resolved once, then used as
is, so the name cannot resolve elsewhere in between); redirects are not followed, and at
most MAX_BODY bytes of the answer are read.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from standardwebhooks.webhooks import Webhook

from events.ssrf import Target, UnsafeURL, resolve

MAX_BODY = 4096
MAX_ERROR = 500


@dataclass(frozen=True)
class AttemptResult:
    succeeded: bool
    status_code: int | None
    error: str
    duration_ms: int


def signed_headers(*, secret: str, webhook_id: str, body: str) -> dict[str, str]:
    timestamp = datetime.now(tz=UTC)
    return {
        "Content-Type": "application/json",
        "User-Agent": "opply-webhooks/1",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, timestamp, body),
    }


def post(*, url: str, secret: str, webhook_id: str, body: str) -> AttemptResult:
    """POST `body` to `url`; success is a 2xx within WEBHOOK_TIMEOUT_SECONDS."""
    started = time.monotonic()
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS

    def result(succeeded: bool, status: int | None, error: str) -> AttemptResult:
        duration = int((time.monotonic() - started) * 1000)
        return AttemptResult(succeeded, status, error[:MAX_ERROR], duration)

    try:
        target = resolve(url)
    except UnsafeURL as exc:
        return result(False, None, f"Refused: {exc}")
    headers = signed_headers(secret=secret, webhook_id=webhook_id, body=body)
    try:
        status, excerpt, location = _exchange(target, headers, body.encode(), timeout)
    except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
        return result(False, None, f"{type(exc).__name__}: {exc}")
    if time.monotonic() - started > timeout:
        return result(False, status, f"No answer within {timeout:g} s.")
    if 200 <= status < 300:
        return result(True, status, "")
    if 300 <= status < 400:
        return result(False, status, f"Redirect to {location!r} not followed.")
    return result(False, status, excerpt)


def _exchange(
    target: Target, headers: dict[str, str], body: bytes, timeout: float
) -> tuple[int, str, str]:
    last_error: OSError | None = None
    for address in target.addresses:
        connection = _connection(target, address, timeout)
        try:
            connection.request("POST", target.path, body=body, headers=headers)
            response = connection.getresponse()
            excerpt = response.read(MAX_BODY).decode("utf-8", errors="replace")
            return response.status, excerpt, response.getheader("Location") or ""
        except ConnectionRefusedError as exc:
            last_error = exc  # the next address may answer
        finally:
            connection.close()
    assert last_error is not None
    raise last_error


def _connection(target: Target, address: str, timeout: float) -> http.client.HTTPConnection:
    if target.scheme == "https":
        return _PinnedHTTPSConnection(target.host, target.port, address=address, timeout=timeout)
    return _PinnedHTTPConnection(target.host, target.port, address=address, timeout=timeout)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked address, not to whatever the host name resolves to now."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]
