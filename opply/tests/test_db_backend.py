"""PostgreSQL's health check is skipped for a connection used moments ago, unless the server
closed it: then it is checked and replaced before the request's first query."""

import time

import psycopg
import pytest
from django.db import connection as proxy
from django.db import connections

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(proxy.vendor != "postgresql", reason="PostgreSQL's backend"),
]


connection = connections["default"]  # the wrapper itself, so that monkeypatch can restore it


def _new_request() -> None:
    """What Django does when a request starts (request_started)."""
    connection.close_if_unusable_or_obsolete()


def _checks(monkeypatch) -> list[bool]:
    calls: list[bool] = []
    real = connection.is_usable

    def counted() -> bool:
        calls.append(usable := real())
        return usable

    monkeypatch.setattr(connection, "is_usable", counted)
    return calls


def _select_one() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_a_connection_used_moments_ago_is_not_checked_again(monkeypatch):
    _select_one()
    checks = _checks(monkeypatch)
    _new_request()
    _select_one()
    assert checks == []


def test_an_idle_connection_past_the_window_is_checked(monkeypatch):
    _select_one()
    checks = _checks(monkeypatch)
    monkeypatch.setattr(connection, "alive_bypass_s", 0.0)
    _new_request()
    _select_one()
    assert checks == [True]


def test_a_connection_the_server_closed_is_replaced_within_the_window(monkeypatch):
    pid = _select_one()
    checks = _checks(monkeypatch)
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    deadline = time.monotonic() + 5
    while not connection._socket_readable() and time.monotonic() < deadline:
        time.sleep(0.01)
    _new_request()
    assert _select_one() != pid
    assert checks == [False]
