"""Django's PostgreSQL backend with a health check that skips a connection known alive.

With `CONN_HEALTH_CHECKS` Django sends `SELECT 1` before the first query of every request:
one round trip per request, 9 to 21 % of a worker's time under load (docs/benchmarks.md).
Here the check is skipped when both hold:

- the connection ran a query less than `DB_ALIVE_BYPASS_MS` ago (default 500 ms), and
- its socket has nothing to read. An idle connection receives nothing unless the server
  ends it: a restart or termination sends a FATAL message and closes the socket, a cut
  connection reads as end-of-file. Either makes the socket readable, and then the full
  check runs and replaces the connection, so the first request after a database restart
  still succeeds (tests/test_db_outage.py).

Only a connection that dies without a word within the window (a host vanishing mid-flight)
reaches a query unchecked; that query fails as it would have a moment later, as a 503.
"""

from __future__ import annotations

import select
import time
from typing import Any

from django.conf import settings
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.alive_bypass_s = getattr(settings, "DB_ALIVE_BYPASS_MS", 500) / 1000
        self.last_used = -1e9  # monotonic seconds of the last cursor this connection gave

    def create_cursor(self, name: str | None = None) -> Any:
        self.last_used = time.monotonic()
        return super().create_cursor(name)

    def close_if_health_check_failed(self) -> None:
        if (
            self.connection is not None
            and self.health_check_enabled  # type: ignore[attr-defined]
            and not self.health_check_done  # type: ignore[has-type]
            and time.monotonic() - self.last_used < self.alive_bypass_s
            and not self._socket_readable()
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def _socket_readable(self) -> bool:
        """Whether the server sent anything (or closed) while the connection was idle."""
        try:
            fd = self.connection.pgconn.socket
            poller = select.poll()
            poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
            return bool(poller.poll(0))
        except Exception:  # no socket any more: let the full check decide
            return True
