"""The current request's id, readable from anywhere (error bodies, log records)."""

import re
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"
_SANE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")

current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)


def accept_or_generate(candidate: str | None) -> str:
    """The client's id when it is a sane token, otherwise a fresh one."""
    if candidate and _SANE.match(candidate):
        return candidate
    return uuid.uuid4().hex
