"""Cross-cutting endpoints: the index at `/`, health probes, the docs pages."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from drf_spectacular.utils import extend_schema, inline_serializer
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from opply.exceptions import TOKEN_HOW_TO, database_unavailable_body, database_unavailable_headers

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


# What `GET /` links to: name, URL name.
INDEX_LINKS = (
    ("docs", "swagger-ui"),
    ("redoc", "redoc"),
    ("schema", "schema"),
    ("token", "token"),
    ("products", "product-list"),
    ("orders", "order-list"),
    ("events", "event-list"),
    ("webhooks", "webhook-list"),
    ("admin", "admin:index"),
)

IndexSerializer = inline_serializer(
    "Index",
    {
        "name": serializers.CharField(),
        "version": serializers.CharField(),
        "authentication": serializers.CharField(),
        "links": serializers.DictField(child=serializers.URLField()),
    },
)


class IndexView(APIView):
    """`GET /`: where everything is, for whoever opens the server's address first. Touches
    neither the database nor auth."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    @extend_schema(
        auth=[],
        operation_id="index",
        tags=["index"],
        summary="Index: links to the docs, the schema, the token and the resources",
        responses={200: IndexSerializer},
    )
    def get(self, request: Request) -> Response:
        return Response(
            {
                "name": settings.SPECTACULAR_SETTINGS["TITLE"],
                "version": settings.SPECTACULAR_SETTINGS["VERSION"],
                "authentication": TOKEN_HOW_TO,
                "links": {name: reverse(url, request=request) for name, url in INDEX_LINKS},
            }
        )


# The docs pages load from this server only: the assets are the sidecar's (whitenoise), and
# the browser refuses anything else the bundles would fetch (ReDoc's logo from its CDN).
DOCS_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",  # the page's inline start-up script
        "style-src 'self' 'unsafe-inline'",  # styles the bundles inject
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",  # ReDoc's search worker
        "frame-ancestors 'none'",
    ]
)


class _LocalAssetsOnly(APIView):
    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
        return response


class SwaggerView(_LocalAssetsOnly, SpectacularSwaggerView):
    pass


class RedocView(_LocalAssetsOnly, SpectacularRedocView):
    template_name = "opply/redoc.html"
