"""Throttles whose counts every server process shares (the cache, or the database)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

from opply.models import LoginFailure

if TYPE_CHECKING:
    from rest_framework.views import APIView


class LoginFailureThrottle(SimpleRateThrottle):
    """Failed logins per username and per client address (rate THROTTLE_LOGIN_RATE).

    Counted in the database (opply.models.LoginFailure), so every server process shares the
    count and it is exact under parallel attempts: `reserve()` records the attempt as a
    failure *before* the password is checked and then counts; `release()` takes it back
    when the login succeeds, so successful logins never use up the allowance. Once either
    count is over the rate, every attempt for that username or address is refused with 429
    until the window has passed, the correct password included: a throttle that still
    answered the right guess would not slow a guessing attacker at all.
    """

    scope = "login"
    duration: int
    num_requests: int

    def __init__(self, request: Request, username: str) -> None:
        super().__init__()
        user_digest = hashlib.sha256(username.casefold().encode()).hexdigest()[:64]
        self.keys = [f"user:{user_digest}", f"addr:{self.get_ident(request)}"[:100]]
        self._reserved: list[int] = []

    def get_rate(self) -> str | None:
        return settings.THROTTLE_LOGIN_RATE or None

    def reserve(self) -> float | None:
        """Count this attempt as a failure; seconds to wait if that puts it over the rate."""
        if self.rate is None:
            return None
        now = timezone.now()
        window_start = now - timedelta(seconds=self.duration)
        LoginFailure.objects.filter(created_at__lte=window_start).delete()
        reserved = LoginFailure.objects.bulk_create(
            [LoginFailure(key=key, created_at=now) for key in self.keys]
        )
        self._reserved = [failure.pk for failure in reserved]
        counts = (
            LoginFailure.objects.filter(key__in=self.keys, created_at__gt=window_start)
            .values("key")
            .annotate(failures=Count("id"), oldest=Min("created_at"))
        )
        waits = [
            (row["oldest"] - window_start).total_seconds()
            for row in counts
            if row["failures"] > self.num_requests
        ]
        if not waits:
            return None
        self.release()
        return max(1.0, max(waits))

    def release(self) -> None:
        """Take back the attempt recorded by `reserve()` (a successful or refused login)."""
        if self._reserved:
            LoginFailure.objects.filter(pk__in=self._reserved).delete()
            self._reserved = []


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
