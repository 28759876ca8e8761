"""API tokens: `GET`/`POST /token/` issue the caller's key, `DELETE /token/` revokes it."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.contrib.auth import authenticate
from django.utils.cache import patch_cache_control
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import THROTTLED_FOR
from accounts.services import token_get_or_create, token_revoke
from opply.permissions import caller
from opply.schema import BASIC_AUTH, TokenSerializer, error

BASIC_REALM = 'Basic realm="api"'


class CredentialsSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150, trim_whitespace=False)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


LOGIN_ERRORS = {
    401: error("Missing or wrong credentials."),
    429: error("Too many failed logins for this username or address; see `Retry-After`."),
}


class TokenView(APIView):
    """`GET` with HTTP Basic or `POST` with credentials returns the caller's token;
    `DELETE` with the token revokes it."""

    throttle_classes: list[Any] = []

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        # Every answer may carry a key (or say whether a password was right): never stored.
        response = super().finalize_response(request, response, *args, **kwargs)
        patch_cache_control(response, private=True, no_store=True)
        return response

    def get_permissions(self) -> list[Any]:
        if self.request.method == "DELETE":
            return [IsAuthenticated()]
        return [AllowAny()]

    def get_authenticate_header(self, request: Request) -> str:
        if request.method == "DELETE":
            return super().get_authenticate_header(request)
        return BASIC_REALM

    @extend_schema(
        summary="Get the caller's token (HTTP Basic)",
        # Security requirement objects, as OpenAPI wants them (the stubs say str).
        auth=[{BASIC_AUTH: []}],  # type: ignore[list-item]
        request=None,
        responses={200: TokenSerializer, **LOGIN_ERRORS},
    )
    def get(self, request: Request) -> Response:
        username, password = _basic_credentials(request)
        return self._issue(request, username, password)

    @extend_schema(
        summary="Get the caller's token (username and password)",
        auth=[{}],  # type: ignore[list-item]
        request=CredentialsSerializer,
        responses={200: TokenSerializer, **LOGIN_ERRORS},
    )
    def post(self, request: Request) -> Response:
        credentials = CredentialsSerializer(data=request.data)
        credentials.is_valid(raise_exception=True)
        return self._issue(
            request, credentials.validated_data["username"], credentials.validated_data["password"]
        )

    @extend_schema(
        summary="Revoke the caller's token",
        description="The old key answers 401 from now on; the next GET or POST issues a new one.",
        responses={204: None},
    )
    def delete(self, request: Request) -> Response:
        token_revoke(user=caller(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _issue(self, request: Request, username: str, password: str) -> Response:
        # The authentication backend applies the failed-login throttle.
        user = authenticate(request._request, username=username, password=password)
        if (wait := getattr(request._request, THROTTLED_FOR, None)) is not None:
            raise exceptions.Throttled(wait=wait)
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid username or password.")
        return Response({"token": token_get_or_create(user=user).key})


def _basic_credentials(request: Request) -> tuple[str, str]:
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise exceptions.NotAuthenticated("HTTP Basic credentials are required.")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise exceptions.AuthenticationFailed("Invalid HTTP Basic header.") from exc
    username, separator, password = decoded.partition(":")
    if not separator or "\x00" in decoded:
        raise exceptions.AuthenticationFailed("Invalid HTTP Basic header.")
    return username, password
