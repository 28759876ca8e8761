"""Throttles whose counts every server process shares (the cache, or the database)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

if TYPE_CHECKING:
    from rest_framework.views import APIView


class UserThrottle(UserRateThrottle):
    """Authenticated callers, rate THROTTLE_USER_RATE (empty disables)."""

    def get_rate(self) -> str | None:
        return settings.THROTTLE_USER_RATE or None

    def allow_request(self, request: Request, view: APIView) -> bool:
        return self.rate is None or super().allow_request(request, view)


class AnonThrottle(AnonRateThrottle):
    """Anonymous callers per address, rate THROTTLE_ANON_RATE (empty disables)."""

    def get_rate(self) -> str | None:
        return settings.THROTTLE_ANON_RATE or None

    def allow_request(self, request: Request, view: APIView) -> bool:
        return self.rate is None or super().allow_request(request, view)
