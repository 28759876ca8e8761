"""Logs are JSON lines on stdout: one access line per request, errors with their traceback,
and the request id on every line written while a request is served."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.test import APIClient

from opply.logging import JsonFormatter
from opply.views import HealthView

view_logger = logging.getLogger("opply.tests.view")


def _logging_view(request: HttpRequest) -> HttpResponse:
    view_logger.warning("inside the view")
    return HttpResponse("ok")


def _failing_view(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom in the view")


# This module doubles as the URLconf of the tests that need a view of their own.
urlpatterns = [
    path("healthz", HealthView.as_view()),
    path("logs", _logging_view),
    path("fails", _failing_view),
]
handler500 = "opply.exceptions.server_error"


@pytest.fixture
def read_logs() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Parses what the configured stdout handler has written since the test began."""
    handler = next(
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler) and isinstance(h.formatter, JsonFormatter)
    )
    buffer = io.StringIO()
    original = handler.setStream(buffer)
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    finally:
        handler.setStream(original)


def _access_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["logger"] == "opply.access"]


def test_an_authenticated_request_writes_one_json_access_line(buyer_api, buyer, read_logs):
    response = buyer_api.get("/products/", HTTP_X_REQUEST_ID="trace-42")

    assert response.status_code == 200
    assert response["X-Request-ID"] == "trace-42"
    access = _access_lines(read_logs())
    assert len(access) == 1
    line = access[0]
    assert line["level"] == "INFO"
    assert line["method"] == "GET"
    assert line["path"] == "/products/"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float | int)
    assert line["duration_ms"] >= 0
    assert line["user_id"] == buyer.pk
    assert line["request_id"] == "trace-42"
    assert "timestamp" in line


def test_an_anonymous_refusal_is_logged_without_a_user_and_with_a_generated_id(api, read_logs):
    response = api.get("/orders/", HTTP_X_REQUEST_ID="not sane!")

    assert response.status_code == 401
    generated = response["X-Request-ID"]
    assert generated != "not sane!"
    assert response.json()["request_id"] == generated
    (line,) = _access_lines(read_logs())
    assert line["status"] == 401
    assert line["user_id"] is None
    assert line["request_id"] == generated


def test_the_query_string_is_not_logged(buyer_api, read_logs):
    buyer_api.get("/products/?search=secret-term")

    (line,) = _access_lines(read_logs())
    assert line["path"] == "/products/"
    assert "secret-term" not in json.dumps(read_logs())


@pytest.mark.urls("opply.tests.test_logging")
def test_every_line_written_during_a_request_carries_its_id(db, read_logs):
    response = APIClient().get("/logs", HTTP_X_REQUEST_ID="abc.DEF_1-2")

    assert response.status_code == 200
    lines = read_logs()
    (inside,) = [line for line in lines if line["logger"] == "opply.tests.view"]
    assert inside["message"] == "inside the view"
    assert inside["level"] == "WARNING"
    assert inside["request_id"] == "abc.DEF_1-2"
    assert all(line["request_id"] == "abc.DEF_1-2" for line in lines)


def test_a_line_written_outside_a_request_has_a_null_request_id(read_logs):
    logging.getLogger("opply.tests.outside").warning("no request here")

    (line,) = [line for line in read_logs() if line["logger"] == "opply.tests.outside"]
    assert line["message"] == "no request here"
    assert line["request_id"] is None


@pytest.mark.urls("opply.tests.test_logging")
def test_an_unhandled_error_is_one_line_with_its_traceback_and_request_id(db, read_logs):
    client = APIClient(raise_request_exception=False)

    response = client.get("/fails", HTTP_X_REQUEST_ID="err-1")

    assert response.status_code == 500
    assert response.json()["request_id"] == "err-1"
    lines = read_logs()
    (error,) = [line for line in lines if line["logger"] == "django.request"]
    assert error["level"] == "ERROR"
    assert error["request_id"] == "err-1"
    assert error["status_code"] == 500
    assert "Traceback (most recent call last)" in error["exc_info"]
    assert "RuntimeError: boom in the view" in error["exc_info"]
    assert "request" not in error  # the request object is not dumped into the line
    (access,) = _access_lines(lines)
    assert access["status"] == 500
    assert access["level"] == "ERROR"
    assert access["request_id"] == "err-1"


@pytest.mark.parametrize("path", ["/products/", '/caf\u00e9/\u2028"quoted"/'])
@pytest.mark.parametrize("user_id", [7, None])
def test_the_access_line_is_the_json_the_generic_formatter_writes(path, user_id):
    """The access line is built from the fields the middleware holds (the fast path), and is
    the very line python-json-logger's generic walk over the record would write."""
    from pythonjsonlogger.json import JsonFormatter as GenericJsonFormatter

    from opply.logging import RequestIDFilter, access_logger

    record = access_logger.makeRecord(
        "opply.access", logging.INFO, __file__, 1, "%s %s %s", ("GET", path, 200), None,
        extra={"method": "GET", "path": path, "status": 200, "duration_ms": 1.25,
               "user_id": user_id},
    )  # fmt: skip
    RequestIDFilter().filter(record)
    formatter = JsonFormatter()
    fast = formatter.format(record)
    assert fast == GenericJsonFormatter.format(formatter, record)
    assert json.loads(fast)["path"] == path
