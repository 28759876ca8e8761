"""`manage.py check --deploy` warns when the webhook guards are lifted in production."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def webhook_guards(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if settings.DEBUG:
        return []
    warnings: list[checks.CheckMessage] = []
    if settings.WEBHOOK_ALLOW_HTTP:
        warnings.append(
            checks.Warning(
                "WEBHOOK_ALLOW_HTTP is on with DEBUG off: webhooks may be sent over plain HTTP.",
                hint="Unset WEBHOOK_ALLOW_HTTP outside development and tests.",
                id="events.W001",
            )
        )
    if settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS:
        warnings.append(
            checks.Warning(
                "WEBHOOK_ALLOW_PRIVATE_NETWORKS is on with DEBUG off: webhooks may reach "
                "loopback, private and link-local addresses (server-side request forgery).",
                hint="Unset WEBHOOK_ALLOW_PRIVATE_NETWORKS outside development and tests.",
                id="events.W002",
            )
        )
    return warnings
