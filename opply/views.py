"""Cross-cutting endpoints: health probes."""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from opply.exceptions import database_unavailable_body, database_unavailable_headers

_all_migrations_applied = False


def _pending_migrations() -> int:
    """How many migrations are unapplied; once none are, only the connection is checked."""
    global _all_migrations_applied
    if _all_migrations_applied:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return 0
    executor = MigrationExecutor(connection)
    pending = len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    _all_migrations_applied = pending == 0
    return pending


HealthSerializer = inline_serializer("Health", {"status": serializers.CharField()})


class HealthView(APIView):
    """Liveness: 200 while the process runs. Touches neither the database nor auth."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    @extend_schema(auth=[], responses={200: HealthSerializer})
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class ReadyView(APIView):
    """Readiness: 200 when the database answers and every migration is applied, else 503."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    @extend_schema(auth=[], responses={200: HealthSerializer, 503: HealthSerializer})
    def get(self, request: Request) -> Response:
        try:
            pending = _pending_migrations()
        except DatabaseError:
            return Response(
                {**database_unavailable_body(), "status": "unavailable"},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
                headers=database_unavailable_headers(),
            )
        if pending:
            return Response(
                {
                    "status": "unavailable",
                    "detail": f"{pending} migration(s) not applied.",
                    "code": "migrations_pending",
                },
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
                headers=database_unavailable_headers(),
            )
        return Response({"status": "ok"})
