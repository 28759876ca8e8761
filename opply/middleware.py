"""Cross-cutting middleware: request ids, optional trailing slashes, private responses,
database outages, JSON-only error pages, and Django's session, authentication and message
middleware run only where a session can matter (the admin, or a browser that carries a
session cookie)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware as _AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware as _MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware as _SessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.urls import is_valid_path
from django.utils.cache import patch_cache_control
from rest_framework.renderers import BrowsableAPIRenderer

from opply.exceptions import (
    database_unavailable_body,
    database_unavailable_headers,
    error_body,
    is_database_unavailable,
    json_error,
    log_database_unavailable,
)
from opply.request_id import REQUEST_ID_HEADER, accept_or_generate, current_request_id

logger = logging.getLogger("opply.errors")

Handler = Callable[[HttpRequest], HttpResponse]

# Headers of an error response that still mean something once its body is rewritten.
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate", REQUEST_ID_HEADER)

_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
    503: "service_unavailable",
}


class RequestIDMiddleware:
    """Accept a sane X-Request-ID or generate one; expose it to logs and echo it back."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # The gunicorn worker (opply.gunicorn_worker) has already chosen it, so that its own
        # log lines for this request carry the same id.
        request_id = current_request_id.get() or accept_or_generate(
            request.headers.get(REQUEST_ID_HEADER)
        )
        request.request_id = request_id  # type: ignore[attr-defined]
        token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class JSONErrorPagesMiddleware:
    """Every error page is the API's JSON body: Django's own HTML pages (CSRF failure, 405,
    a 404 outside DRF...) are rewritten. Runs inside RequestIDMiddleware, so the rewritten
    body carries the request id."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return _as_json_error(self.get_response(request))


class SlashOptionalMiddleware:
    """Serve every path both with and without its trailing slash: `/orders` is `/orders/`.

    Django's APPEND_SLASH answers the slash-less spelling with a 301, and clients that
    follow it turn a POST into a GET (or drop its body). Instead, a path that resolves only
    once its slash is added is served as if it had been sent with it, whatever the method.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if not path.endswith("/"):
            urlconf = getattr(request, "urlconf", None)
            if not is_valid_path(path, urlconf) and is_valid_path(f"{path}/", urlconf):
                request.path_info = f"{path}/"
                request.path = f"{request.path}/"
        return self.get_response(request)


class PrivateResponseMiddleware:
    """`Cache-Control: private, no-store` on every response to a caller with credentials
    (a token, HTTP Basic, a signed-in session): private data stays out of shared caches and
    off clients' disks. (The token view marks its own answers, which carry a key whatever
    the caller sent.)

    Directives a view set are kept and added to (an ETag view's `no-cache` stays), and
    no-store does not stop a client from revalidating a body it kept in memory with
    If-None-Match.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if "HTTP_AUTHORIZATION" in request.META or (user is not None and user.is_authenticated):
            patch_cache_control(response, private=True, no_store=True)
        return response


class DatabaseUnavailableMiddleware:
    """A lost database is a 503 with Retry-After, wherever in the request it surfaced."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_database_unavailable(exception):
            return None
        log_database_unavailable(exception)
        return json_error(database_unavailable_body(exception), 503, database_unavailable_headers())


def _as_json_error(response: HttpResponse) -> HttpResponse:
    """Rewrite any non-JSON error page (CSRF failure, Django's 405, ...) as the API's JSON body.

    The browsable API's HTML, asked for by a browser, is left as it is.
    """
    if response.status_code < 400 or getattr(response, "streaming", False):
        return response
    content_type = response.get("Content-Type", "")
    if "json" in content_type:
        return response
    if isinstance(getattr(response, "accepted_renderer", None), BrowsableAPIRenderer):
        return response
    status = response.status_code
    try:
        detail = HTTPStatus(status).phrase + "."
    except ValueError:
        detail = "Error."
    body = error_body(detail, _CODES.get(status, "error"))
    rewritten = json_error(body, status)
    for header in _KEPT_HEADERS:
        if header in response:
            rewritten[header] = response[header]
    return rewritten


def needs_session(request: HttpRequest) -> bool:
    """The admin, and any request carrying a session cookie (a signed-in browser on the
    browsable API, which DRF's SessionAuthentication reads). An API client with a token and no
    cookie needs none of the session, authentication or message middleware: DRF
    authenticates it. (Django's CSRF middleware stays on every request, as `check --deploy`
    expects; it returns at once for DRF's views, which are exempt from it.)"""
    return request.path_info.startswith("/admin/") or (
        settings.SESSION_COOKIE_NAME in request.COOKIES
    )


class _SessionOnly:
    """Runs the wrapped Django middleware only for requests that `needs_session`."""

    get_response: Any

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if needs_session(request):
            return super().__call__(request)  # type: ignore[misc]
        return self.get_response(request)


class SessionMiddleware(_SessionOnly, _SessionMiddleware):
    pass


class AuthenticationMiddleware(_SessionOnly, _AuthenticationMiddleware):
    pass


class MessageMiddleware(_SessionOnly, _MessageMiddleware):
    pass
