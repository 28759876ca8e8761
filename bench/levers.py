"""Each lever of the read path measured in one process, on and off in alternating batches.

    .venv/bin/python bench/levers.py [batches] [requests per batch] [lever name part ...]

For every lever the API's CPU per request is measured with the lever off and on, in
alternating batches of the same requests through Django's whole WSGI handler (as
bench/profiling.py does), so that the machine's changing load weighs on both alike; the
medians of the batches are compared. "off" is today's code with that one lever taken out (its
predecessor restored in place), so each row is what the lever saves on its own, all others
kept. The last row turns every lever off at once: the code before issue 14's levers.
Naming parts of lever names measures only those levers (and no "all levers" row).
Wall time is given too (it includes waiting for PostgreSQL and Redis, so it is what round
trips cost, and what the machine's load moves most). Writes a JSON object on stdout after the
table (on stderr).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from types import SimpleNamespace
from typing import Any

import profiling


@contextmanager
def _patched(owner: Any, name: str, value: Any) -> Iterator[None]:
    missing = object()
    old = owner.__dict__.get(name, missing) if isinstance(owner, type) else getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        if old is missing:
            delattr(owner, name)  # inherited: the base class's value shows again
        else:
            setattr(owner, name, old)


def _levers(handlers: SimpleNamespace) -> dict[str, tuple[list[str], Callable[[], Any]]]:
    """Lever -> (scenarios it touches, context manager that takes it out)."""
    import django_filters
    from django.conf import settings
    from django.db import connection
    from pythonjsonlogger.json import JsonFormatter as GenericJsonFormatter
    from rest_framework import authentication, mixins
    from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
    from rest_framework.response import Response
    from rest_framework.serializers import DateTimeField

    import opply.filters
    import orders.serializers
    import products.views
    from opply.logging import JsonFormatter
    from opply.viewsets import ListFilteredViewSet
    from orders import selectors, services
    from orders.models import OrderLine
    from orders.serializers import OrderSerializer
    from orders.views import OrderViewSet
    from products import counts
    from products.views import ProductViewSet

    def orm_lines(orders: list[Any]) -> list[Any]:  # a page's lines before they were prepared
        lines: dict[int, list[Any]] = {order[0]: [] for order in orders}
        if lines:
            rows = OrderLine.objects.filter(order_id__in=list(lines)).order_by("id")
            for line in rows.values_list(*selectors.LINE_ROW):
                lines[line[0]].append(line)
        return [(order, lines[order[0]]) for order in orders]

    def marker_read_again(key: Any, count: Any, marker: Any) -> int:  # as the count once did
        return counts.catalogue_count(key, count, counts.catalogue_marker())

    def orm_current(self: Any, request: Any) -> Response:  # the current order before issue 14
        order = services.order_get_or_create_active(user=request.user)
        return Response(OrderSerializer(selectors.order_load_lines(order=order)).data)

    views = (ProductViewSet, OrderViewSet)
    drf_auth = [authentication.TokenAuthentication, authentication.SessionAuthentication]

    def stack(*patches: tuple[Any, str, Any]) -> Callable[[], Any]:
        def enter() -> ExitStack:
            entered = ExitStack()
            for patch in patches:
                entered.enter_context(_patched(*patch))
            return entered

        return enter

    return {
        "health check bypass": (
            ["detail", "current", "catalogue"],
            stack((connection, "alive_bypass_s", 0.0)),
        ),
        "session middleware for the admin only": (
            ["healthz", "detail"],
            stack((handlers, "api", handlers.django_middleware)),
        ),
        "access line from known fields": (
            ["healthz", "detail"],
            stack((JsonFormatter, "format", GenericJsonFormatter.format)),
        ),
        "catalogue count remembered": (
            ["catalogue", "deep_page"],
            stack((products.views, "catalogue_counts_remembered", lambda: False)),
        ),
        "orjson rendering": (
            ["catalogue", "history"],
            stack(*((v, "renderer_classes", [JSONRenderer, BrowsableAPIRenderer]) for v in views)),
        ),
        "rows read as values": (
            ["catalogue", "history"],
            stack(
                (ProductViewSet, "list", mixins.ListModelMixin.list),
                (OrderViewSet, "list", mixins.ListModelMixin.list),
            ),
        ),
        "token answer in the throttle's round trip": (
            ["detail", "current", "catalogue"],
            stack((settings, "TOKEN_CACHE_SECONDS", 0)),
        ),
        "SQL built once per connection": (
            ["detail", "current", "catalogue"],
            stack(
                *((v, "authentication_classes", drf_auth) for v in views),
                (ProductViewSet, "retrieve", mixins.RetrieveModelMixin.retrieve),
                (OrderViewSet, "current", orm_current),
            ),
        ),
        "lists without filter input prepared": (
            ["catalogue", "deep_page", "history"],
            stack((ListFilteredViewSet, "unfiltered_list", lambda view: False)),
        ),
        "lines of a page prepared": (
            ["history"],
            stack((selectors, "order_rows_with_lines", orm_lines)),
        ),
        "filter form class built once": (
            ["search"],
            stack(
                (
                    opply.filters.FilterSet,
                    "get_form_class",
                    django_filters.FilterSet.get_form_class,
                )
            ),
        ),
        "catalogue marker read once": (
            ["catalogue"],
            stack((products.views, "catalogue_count", marker_read_again)),
        ),
        "timestamps in a zone told once": (
            ["history"],
            stack((orders.serializers, "_DATETIME", DateTimeField())),
        ),
    }


def main() -> None:
    batches = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    per_batch = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    chosen = sys.argv[3:]
    app, _, tokens = profiling._setup()
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler

    lean = settings.MIDDLEWARE
    django_classes = {
        f"opply.middleware.{name}": f"django.contrib.{module}.middleware.{name}"
        for module, name in [
            ("sessions", "SessionMiddleware"),
            ("auth", "AuthenticationMiddleware"),
            ("messages", "MessageMiddleware"),
        ]
    }
    settings.MIDDLEWARE = [django_classes.get(name, name) for name in lean]
    handlers = SimpleNamespace(api=app, django_middleware=WSGIHandler())
    settings.MIDDLEWARE = lean
    levers = _levers(handlers)

    def cpu_ms(path: str, count: int) -> tuple[float, float]:
        """CPU and wall milliseconds per request."""
        started, wall = time.process_time(), time.perf_counter()
        for number in range(count):
            app_now = handlers.api
            response = app_now(profiling._environ(path, tokens[number % len(tokens)]), _ok)
            b"".join(response)
            response.close()
        return (
            (time.process_time() - started) / count * 1000,
            (time.perf_counter() - wall) / count * 1000,
        )

    def measure(scenarios: list[str], take_out: Callable[[], Any]) -> dict[str, dict[str, float]]:
        results = {}
        for scenario in scenarios:
            path = profiling.PATHS[scenario]
            on: list[tuple[float, float]] = []
            off: list[tuple[float, float]] = []
            for _ in range(batches):
                on.append(cpu_ms(path, per_batch))
                with take_out():
                    off.append(cpu_ms(path, per_batch))
            results[scenario] = {
                "off_ms": statistics.median(cpu for cpu, _ in off),
                "on_ms": statistics.median(cpu for cpu, _ in on),
                "off_wall_ms": statistics.median(wall for _, wall in off),
                "on_wall_ms": statistics.median(wall for _, wall in on),
            }
        return results

    for scenario in profiling.PATHS.values():  # warm every path and connection
        cpu_ms(scenario, 20)
    table: dict[str, Any] = {}
    for lever, (scenarios, take_out) in levers.items():
        if chosen and not any(part in lever for part in chosen):
            continue
        table[lever] = measure(scenarios, take_out)
        _report(lever, table[lever])
    if chosen:
        json.dump(
            {"batches": batches, "requests_per_batch": per_batch, "levers": table}, profiling.OUT
        )
        return

    def all_out() -> ExitStack:
        entered = ExitStack()
        for _, take_out in levers.values():
            entered.enter_context(take_out())
        return entered

    table["all levers"] = measure(list(profiling.PATHS), all_out)
    _report("all levers", table["all levers"])
    json.dump({"batches": batches, "requests_per_batch": per_batch, "levers": table}, profiling.OUT)


def _ok(status: str, headers: Any, exc_info: Any = None) -> None:
    if not status.startswith(("200", "201")):
        raise RuntimeError(f"unexpected {status}")


def _report(lever: str, rows: dict[str, dict[str, float]]) -> None:
    for scenario, row in rows.items():
        saved = 1 - row["on_ms"] / row["off_ms"] if row["off_ms"] else 0.0
        print(
            f"{lever:>38} {scenario:>10}: CPU {row['off_ms']:6.2f} → {row['on_ms']:6.2f} ms "
            f"(saves {saved:.0%}), wall {row['off_wall_ms']:6.2f} → {row['on_wall_ms']:6.2f} ms",
            file=sys.stderr,
            flush=True,
        )


if __name__ == "__main__":
    main()
