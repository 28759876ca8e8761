"""The failed-login limit, shared by every way in (API tokens and the admin's login)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Min
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.throttling import BaseThrottle

from accounts.models import LoginFailure

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _parse_rate(rate: str) -> tuple[int, int]:
    """'10/min' -> (10, 60): the number, then the period by its first letter, as DRF reads
    its throttle rates."""
    number, _, period = rate.partition("/")
    return int(number), _PERIODS[period[:1]]


class LoginAttempts:
    """Failed logins per username and per client address (rate THROTTLE_LOGIN_RATE).

    Counted in the database (accounts.models.LoginFailure), so every server process shares the
    count and it is exact under parallel attempts: `reserve()` records the attempt as a
    failure *before* the password is checked and then counts; `release()` takes it back
    when the login succeeds, so successful logins never use up the allowance. Once either
    count is over the rate, every attempt for that username or address is refused with 429
    until the window has passed, the correct password included: a throttle that still
    answered the right guess would not slow a guessing attacker at all.
    """

    def __init__(self, request: HttpRequest, username: str) -> None:
        self.rate: str | None = settings.THROTTLE_LOGIN_RATE or None
        if self.rate is not None:
            self.num_requests, self.duration = _parse_rate(self.rate)
        user_digest = hashlib.sha256(username.casefold().encode()).hexdigest()[:64]
        address = BaseThrottle().get_ident(request)  # type: ignore[arg-type]
        self.keys = [f"user:{user_digest}", f"addr:{address}"[:100]]
        self._reserved: list[int] = []

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
