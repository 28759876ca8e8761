"""Shared by the lists' tests: a list request answered by prepared statements (no filter
input) compared with the same request through the FilterSet."""

from collections.abc import Callable
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from opply.viewsets import ListFilteredViewSet


def content(response: Any) -> bytes:
    """The body, byte for byte, but for an error's request id (new for every request)."""
    request_id = response.json().get("request_id") if response.status_code != 200 else None
    return response.content.replace(request_id.encode(), b"") if request_id else response.content


def _read(client: Any, url: str, before: Callable[[], Any]) -> tuple[Any, list[str]]:
    before()
    with CaptureQueriesContext(connection) as statements:
        response = client.get(url)
    return response, [q["sql"] for q in statements]


def assert_answers_as_through_the_filter_set(
    monkeypatch: Any, client: Any, url: str, before: Callable[[], Any] = lambda: None
) -> None:
    """The same status, body, ETag and statements as when the view built the FilterSet for
    every list request. `before` runs before each request (e.g. to forget counts)."""
    _read(client, url, before)  # statements prepared on this connection

    prepared, prepared_sql = _read(client, url, before)
    with monkeypatch.context() as through_the_filter_set:
        through_the_filter_set.setattr(ListFilteredViewSet, "unfiltered_list", lambda view: False)
        expected, expected_sql = _read(client, url, before)

    assert prepared.status_code == expected.status_code
    assert content(prepared) == content(expected)
    assert prepared.get("ETag") == expected.get("ETag")
    assert prepared_sql == expected_sql


def filter_sets_built(monkeypatch: Any, filterset_class: type) -> list[Any]:
    """The data of every filter set of `filterset_class` built from now on."""
    built: list[Any] = []
    original: Any = filterset_class.__init__  # type: ignore[misc]

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        built.append(kwargs.get("data", args[0] if args else None))
        original(self, *args, **kwargs)

    monkeypatch.setattr(filterset_class, "__init__", counting)
    return built
