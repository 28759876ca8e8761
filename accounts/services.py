"""Token services: issue and revoke API tokens."""

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from rest_framework.authtoken.models import Token


def token_get_or_create(*, user: User) -> Token:
    """The user's token, created on first use. Concurrent first calls share one token."""
    try:
        with transaction.atomic():
            token, _ = Token.objects.get_or_create(user=user)
    except IntegrityError:
        token = Token.objects.get(user=user)
    return token


def token_revoke(*, user: User) -> None:
    """Delete the user's token; the next login issues a new key."""
    Token.objects.filter(user=user).delete()
