"""Throttles whose counts live in the shared cache, so every server process sees them."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

if TYPE_CHECKING:
    from rest_framework.views import APIView


class LoginFailureThrottle(SimpleRateThrottle):
    """Failed logins per username and per client address (rate THROTTLE_LOGIN_RATE).

    Only failures are counted, so successful logins never use up the allowance. Once either
    count reaches the rate, every attempt for that username or address is refused with 429
    until the window has passed, the correct password included: a throttle that still
    answered the right guess would not slow a guessing attacker at all.
    """

    scope = "login"
    duration: int
    num_requests: int

    def __init__(self, request: Request, username: str) -> None:
        super().__init__()
        user_digest = hashlib.sha256(username.casefold().encode()).hexdigest()
        self.keys = [
            f"throttle:login:user:{user_digest}",
            f"throttle:login:addr:{self.get_ident(request)}",
        ]

    def get_rate(self) -> str | None:
        return settings.THROTTLE_LOGIN_RATE or None

    def blocked_for(self) -> float | None:
        """Seconds until an attempt is allowed again, or None when it is allowed now."""
        if self.rate is None:
            return None
        now = self.timer()
        waits = []
        for history in self.cache.get_many(self.keys).values():
            recent = [t for t in history if t > now - self.duration]
            if len(recent) >= self.num_requests:
                waits.append(self.duration - (now - recent[-1]))
        return max(waits) if waits else None

    def record_failure(self) -> None:
        if self.rate is None:
            return
        now = self.timer()
        stored = self.cache.get_many(self.keys)
        self.cache.set_many(
            {
                key: [now, *(t for t in stored.get(key, []) if t > now - self.duration)]
                for key in self.keys
            },
            timeout=self.duration,
        )


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
