"""The login limits, shared by every way in (API tokens and the admin's login).

Three counts, each one atomic hit on the throttles' counter store (opply/throttles.py), so
every server process shares them and they are exact under parallel attempts:

- failed logins per (client address, username), THROTTLE_LOGIN_RATE (default 10/min): a
  guesser is stopped on that account from that address, while the real user, from any
  other address, still signs in;
- failed logins per client address across usernames, THROTTLE_LOGIN_ADDRESS_RATE (default
  50/min): one address cannot spread its guesses over many accounts;
- successful logins per client address, THROTTLE_LOGIN_SUCCESS_RATE (default 30/min):
  each one costs a full password hash, so a flood of valid logins cannot stall the server.

Every attempt hits all three before the password is checked; the counts that the outcome
does not concern are then taken back (a success releases its failure hits, a failure its
success hit), so parallel attempts can never slip past a limit together. Once a count is
over its rate, attempts that would add to it are refused with 429 without checking the
password, the correct one included, until that window ends. An empty rate disables its
count.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from opply.throttles import counter_key, counter_store


@dataclass(frozen=True)
class _Count:
    key: str
    limit: int
    period: int
    counts_failures: bool


def _parse_rate(rate: str | None) -> tuple[int, int] | None:
    if not rate:
        return None
    limit, period = SimpleRateThrottle.parse_rate(None, rate)  # type: ignore[arg-type]
    return (int(limit), int(period)) if limit is not None and period is not None else None


class LoginAttempts:
    """One login attempt's hits on the three login counts (see the module docstring)."""

    def __init__(self, request: HttpRequest, username: str) -> None:
        user_digest = hashlib.sha256(username.casefold().encode()).hexdigest()[:32]
        address = BaseThrottle().get_ident(request)  # type: ignore[arg-type]
        counts = [
            (settings.THROTTLE_LOGIN_RATE, ("login-fail", address, user_digest), True),
            (settings.THROTTLE_LOGIN_ADDRESS_RATE, ("login-fail", address), True),
            (settings.THROTTLE_LOGIN_SUCCESS_RATE, ("login-ok", address), False),
        ]
        self.counts: list[_Count] = []
        for rate, parts, counts_failures in counts:
            if (parsed := _parse_rate(rate)) is not None:
                self.counts.append(_Count(counter_key(*parts), *parsed, counts_failures))
        self._held: list[_Count] = []

    def reserve(self) -> float | None:
        """Count this attempt; seconds to wait if that puts any count over its rate (the
        attempt is then refused and takes its hits back)."""
        store = counter_store()
        waits = []
        for count in self.counts:
            hits, remaining = store.hit(count.key, count.period)
            self._held.append(count)
            if hits > count.limit:
                waits.append(remaining)
        if not waits:
            return None
        self._release(lambda count: True)
        return max(1.0, max(waits))

    def succeeded(self) -> None:
        """The password was right: take back the failure hits, keep the success hit."""
        self._release(lambda count: count.counts_failures)

    def failed(self) -> None:
        """The password was wrong: take back the success hit, keep the failure hits."""
        self._release(lambda count: not count.counts_failures)

    def _release(self, which: Callable[[_Count], bool]) -> None:
        store = counter_store()
        for count in [count for count in self._held if which(count)]:
            store.release(count.key)
            self._held.remove(count)
