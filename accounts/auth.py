"""Password authentication with the failed-login throttle, for every way in (API and admin)."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token
from rest_framework.request import Request

from accounts import token_cache
from accounts.login_throttle import LoginAttempts
from opply.prepared import PreparedRead
from opply.throttles import user_counter_of

THROTTLED_FOR = "login_throttled_for"


class ThrottledModelBackend(ModelBackend):
    """Django's model backend behind the login limits (accounts/login_throttle.py).

    Every password check that comes with a request (`/token/`, the admin's login page, the
    browsable API's login) counts against the client address and the (address, username)
    pair. A throttled
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
            throttle.succeeded()
        else:
            throttle.failed()
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


_USER_FIELDS = [field.attname for field in User._meta.concrete_fields]
_TOKEN_USER = PreparedRead(
    "token-user",
    lambda key: Token.objects.filter(key=key).values_list(
        "created", *(f"user__{name}" for name in _USER_FIELDS)
    ),
    str,
)


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication, asking one shared store once per request.

    With Redis (accounts/token_cache.py) the token's answer and the user's throttle hit come
    back from one script; otherwise, and whenever the cache has no answer, the token and its
    user are read with SQL the ORM built once per connection (opply/prepared.py). A revoked
    token is refused at once by every process either way."""

    def authenticate(self, request: Request) -> tuple[User, Token] | None:
        self.request = request
        return super().authenticate(request)

    def authenticate_credentials(self, key: str) -> tuple[User, Token]:
        request = self.request
        view = request.parser_context.get("view") if request.parser_context else None
        cached = token_cache.lookup(request._request, key, lambda: user_counter_of(view))
        if cached is not None:
            return cached
        rows = _TOKEN_USER.rows(key)
        if not rows:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        created, *values = rows[0]
        user = User.from_db("default", _USER_FIELDS, values)
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token = Token.from_db("default", ["key", "user_id", "created"], [key, user.pk, created])
        token.user = user
        token_cache.remember(token, user)
        return user, token
