"""`python manage.py test` runs the pytest suite, as `make test` does."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError


class PytestTestRunner:
    """A Django test runner that hands over to pytest (and pytest-django)."""

    def __init__(
        self, verbosity: int = 1, failfast: bool = False, keepdb: bool = False, **kwargs: Any
    ) -> None:
        self.verbosity = verbosity
        self.failfast = failfast
        self.keepdb = keepdb

    @classmethod
    def add_arguments(cls, parser: Any) -> None:
        parser.add_argument("--keepdb", action="store_true", help="Reuse the test database.")

    def run_tests(self, test_labels: list[str], **kwargs: Any) -> int:
        try:
            import pytest
        except ImportError as exc:
            raise CommandError(
                "pytest is not installed: run `make install-dev` (or `make test`) first."
            ) from exc

        args = list(test_labels)
        if self.verbosity == 0:
            args.append("--quiet")
        elif self.verbosity > 1:
            args.append("-" + "v" * (self.verbosity - 1))
        if self.failfast:
            args.append("--exitfirst")
        if self.keepdb:
            args.append("--reuse-db")
        return int(pytest.main(args))
