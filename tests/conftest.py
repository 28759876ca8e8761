"""Fixtures of the system tests: throwaway databases and gunicorn processes, always torn down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import SUMMARIES, Database, ServerFarm, WorkerPool, postgres_url

SKIP_WITHOUT_POSTGRES = "needs PostgreSQL: set DATABASE_URL=postgres://... (this run is on SQLite)"


def _migrated(database: Database) -> Iterator[Database]:
    try:
        database.migrate()
        yield database
    finally:
        database.drop()


@pytest.fixture
def postgres_database(tmp_path: Path) -> Iterator[Database]:
    """A new, migrated PostgreSQL database on the DATABASE_URL server, dropped afterwards."""
    if postgres_url() is None:
        pytest.skip(SKIP_WITHOUT_POSTGRES)
    yield from _migrated(Database.create(tmp_path))


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Iterator[Database]:
    """A new, migrated SQLite file in the test's temporary directory."""
    yield from _migrated(Database.sqlite(tmp_path))


@pytest.fixture
def system_database(tmp_path: Path) -> Iterator[Database]:
    """A new, migrated database of the run's kind: PostgreSQL when DATABASE_URL says so."""
    yield from _migrated(Database.create(tmp_path))


@pytest.fixture
def farm(tmp_path: Path) -> Iterator[ServerFarm]:
    """Starts gunicorn processes; every one of them is stopped at teardown, pass or fail."""
    servers = ServerFarm(tmp_path)
    try:
        yield servers
    finally:
        servers.stop_all()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[WorkerPool]:
    """Starts `manage.py worker` processes; every one of them is stopped at teardown."""
    pool = WorkerPool(tmp_path)
    try:
        yield pool
    finally:
        pool.stop_all()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The figures of every system test, shown in the log even when the tests pass."""
    if SUMMARIES:
        terminalreporter.section("system test figures")
        for line in SUMMARIES:
            terminalreporter.write_line(line)
