"""Domain errors and the one place that turns any error into the JSON body of the API.

Every error response is `{"detail": <sentence>, "code": <machine code>}`; validation
errors add `"errors": {field: [messages]}` and domain errors may add their own fields
(`insufficient_stock` adds `"lines"`).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, DataError, IntegrityError, InterfaceError, OperationalError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeout
from rest_framework import exceptions, status
from rest_framework.authentication import TokenAuthentication
from rest_framework.response import Response
from rest_framework.views import set_rollback

from opply.request_id import current_request_id

logger = logging.getLogger("opply.errors")


class DomainError(Exception):
    """A business rule refused the request. Raised by services, mapped to 4xx here."""

    status_code: int = status.HTTP_409_CONFLICT
    code: str = "conflict"
    detail: str = "The request conflicts with the current state."

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.detail
        self.extra = extra
        super().__init__(self.detail)

    def as_body(self) -> dict[str, Any]:
        return error_body(self.detail, self.code, **self.extra)


class NotFound(DomainError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"
    detail = "Not found."


class InsufficientStock(DomainError):
    """`lines` lists every short line as {"product", "requested", "available"}."""

    code = "insufficient_stock"
    detail = "Not enough stock for one or more products."

    def __init__(self, *, lines: list[dict[str, int]], detail: str | None = None) -> None:
        super().__init__(detail, lines=lines)
        self.lines = lines


class IllegalTransition(DomainError):
    code = "illegal_transition"

    def __init__(self, *, current: str, target: str) -> None:
        super().__init__(
            f"An order cannot go from '{current}' to '{target}'.", current=current, target=target
        )


class QuantityRuleBroken(DomainError):
    """One cart line would break its product's quantity rules; the body says which values
    are allowed around the one asked for (`products.rules.quantity_violation`)."""

    code = "quantity_rule"
    detail = "This quantity breaks the product's quantity rules."


class QuantityRulesBroken(DomainError):
    """Submit or place: `lines` lists every line that breaks its product's rules."""

    code = "quantity_rules"
    detail = "One or more lines break their product's quantity rules; nothing was changed."

    def __init__(self, *, lines: list[dict[str, Any]]) -> None:
        super().__init__(None, lines=lines)
        self.lines = lines


class PreconditionFailed(DomainError):
    """`If-Match` named a version that is no longer current; nothing was changed."""

    status_code = status.HTTP_412_PRECONDITION_FAILED
    code = "precondition_failed"

    def __init__(self, *, current_version: int) -> None:
        super().__init__(
            f"The resource has changed since you read it: it is now at version "
            f"{current_version}. Read it again and retry.",
            current_version=current_version,
        )


# How to authenticate, said by every 401 of an endpoint that takes a token: the scheme is
# DRF's `Token`, which Swagger UI's Authorize box does not add by itself.
TOKEN_HOW_TO = (
    "Send the header 'Authorization: Token <key>' (the word Token, a space, then the key); "
    "POST /token/ with your username and password returns your key."
)


def error_body(detail: str, code: str, **extra: Any) -> dict[str, Any]:
    body = {"detail": detail, "code": code, **extra}
    if request_id := current_request_id.get():
        body["request_id"] = request_id
    return body


def database_unavailable_headers() -> dict[str, str]:
    return {"Retry-After": str(settings.DATABASE_RETRY_AFTER_SECONDS)}


# PostgreSQL states that mean "busy, retry" rather than "gone": deadlock detected,
# serialization failure, lock not available, statement timeout.
_CONTENTION_SQLSTATES = {"40P01", "40001", "55P03", "57014"}


# SQLite's words for "another connection holds the write lock" (after the busy timeout).
_SQLITE_BUSY_MESSAGES = ("database is locked", "database table is locked")


def is_database_busy(exc: BaseException | None) -> bool:
    """Contention that a retry shortly will get past: the lock was not had in time."""
    cause = getattr(exc, "__cause__", None)
    if getattr(cause, "sqlstate", None) in _CONTENTION_SQLSTATES:
        return True
    return isinstance(exc, OperationalError) and str(exc).startswith(_SQLITE_BUSY_MESSAGES)


def database_unavailable_body(exc: BaseException | None = None) -> dict[str, Any]:
    """The 503 body for a database error: contention (retry) or unavailability."""
    if is_database_busy(exc):
        return error_body(
            "The database was too busy with concurrent requests; retry shortly.", "database_busy"
        )
    if isinstance(exc, (RedisConnectionError, RedisTimeout)):
        return error_body("The shared store is unavailable; retry shortly.", "database_unavailable")
    return error_body("The database is unavailable; retry shortly.", "database_unavailable")


def is_database_unavailable(exc: BaseException) -> bool:
    """The database, or the Redis that holds the throttle counters and tokens' answers,
    cannot be reached: a 503 with Retry-After, never a 500."""
    return isinstance(exc, (OperationalError, InterfaceError, RedisConnectionError, RedisTimeout))


def log_database_unavailable(exc: BaseException) -> None:
    if is_database_busy(exc):
        logger.warning("database busy", exc_info=exc)
    else:
        logger.error("database unavailable", exc_info=exc)


def _validation_body(exc: exceptions.ValidationError) -> dict[str, Any]:
    detail = exc.detail
    if isinstance(detail, dict):
        errors: Any = detail
    elif isinstance(detail, list):
        errors = {"non_field_errors": detail}
    else:
        errors = {"non_field_errors": [detail]}
    return error_body("Invalid input.", "invalid", errors=errors)


def _token_401_detail(exc: exceptions.APIException, request: Any) -> str:
    """The sentence of a 401 from an endpoint that takes a token, saying how to send one."""
    header = request.META.get("HTTP_AUTHORIZATION", "") if request is not None else ""
    scheme = header.split(" ", 1)[0]
    if isinstance(exc, exceptions.NotAuthenticated) and header and scheme.lower() != "token":
        return f"The Authorization header does not start with 'Token '. {TOKEN_HOW_TO}"
    return f"{exc.detail} {TOKEN_HOW_TO}"


def _api_exception_body(exc: exceptions.APIException, request: Any = None) -> dict[str, Any]:
    if isinstance(exc, exceptions.ValidationError):
        return _validation_body(exc)
    if getattr(exc, "auth_header", None) == TokenAuthentication.keyword:
        return error_body(_token_401_detail(exc, request), str(exc.get_codes()))
    detail = exc.detail
    if isinstance(detail, (list, dict)):
        return error_body(str(exc.default_detail), str(exc.default_code), errors=detail)
    return error_body(str(detail), str(getattr(detail, "code", exc.default_code)))


# Writes the database refused because of what the request asked for: client errors.
_DATABASE_REFUSALS: tuple[tuple[tuple[type[Exception], ...], int, str, str], ...] = (
    (
        (ProtectedError, RestrictedError),
        status.HTTP_409_CONFLICT,
        "This object is still referenced by other records; deactivate it instead.",
        "protected",
    ),
    (
        (DataError,),
        status.HTTP_400_BAD_REQUEST,
        "A value is out of range or malformed for storage.",
        "invalid",
    ),
    (
        (IntegrityError,),
        status.HTTP_409_CONFLICT,
        "The request conflicts with the current state.",
        "conflict",
    ),
)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF exception handler: every known error becomes the API's JSON error body."""
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(exc.as_body(), status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.APIException):
        headers: dict[str, str] = {}
        if auth_header := getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = auth_header
        if wait := getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(wait))
        set_rollback()
        body = _api_exception_body(exc, context.get("request"))
        return Response(body, status=exc.status_code, headers=headers)
    for kinds, status_code, detail, code in _DATABASE_REFUSALS:
        if isinstance(exc, kinds):
            logger.warning("%s mapped to %s", type(exc).__name__, status_code, exc_info=exc)
            set_rollback()
            return Response(error_body(detail, code), status=status_code)
    if is_database_unavailable(exc):
        log_database_unavailable(exc)
        return Response(
            database_unavailable_body(exc),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers=database_unavailable_headers(),
        )
    if isinstance(exc, DatabaseError):
        logger.error("database error", exc_info=exc)
    return None


# --- Django's own error views (outside DRF): JSON, never an HTML page ------------------

# Compact, like the bodies DRF renders, so every error reads the same.
_COMPACT = {"separators": (",", ":")}


def json_error(
    body: dict[str, Any], status: int, headers: dict[str, str] | None = None
) -> HttpResponse:
    return JsonResponse(body, status=status, headers=headers, json_dumps_params=_COMPACT)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return json_error(error_body("Bad request.", "bad_request"), status=400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return json_error(
        error_body("You do not have permission to perform this action.", "permission_denied"),
        status=403,
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return json_error(error_body("Not found.", "not_found"), status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    return json_error(error_body("Internal server error.", "server_error"), status=500)
