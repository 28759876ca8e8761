"""Password authentication with the failed-login throttle, for every way in (API and admin)."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from accounts.login_throttle import LoginAttempts

THROTTLED_FOR = "login_throttled_for"


class ThrottledModelBackend(ModelBackend):
    """Django's model backend behind the failed-login throttle (THROTTLE_LOGIN_RATE).

    Every password check that comes with a request (`/token/`, the admin's login page, the
    browsable API's login) counts against the username and the client address. A throttled
    attempt is refused without checking the password; the seconds to wait are left on the
    request as `login_throttled_for`, so that the token view can answer 429 with Retry-After.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if request is None or username is None:
            return super().authenticate(request, username, password, **kwargs)
        throttle = LoginAttempts(request, username)
        if (wait := throttle.reserve()) is not None:
            setattr(request, THROTTLED_FOR, wait)
            return None
        user = super().authenticate(request, username, password, **kwargs)
        if user is not None:
            throttle.release()
        return user


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin's login form, saying so when the failed-login throttle refused the attempt."""

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except ValidationError:
            if getattr(self.request, THROTTLED_FOR, None) is not None:
                raise ValidationError(
                    "Too many failed logins for this account or address; try again later.",
                    code="throttled",
                ) from None
            raise
