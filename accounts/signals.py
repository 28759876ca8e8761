"""Tokens end with the password or the account that they stand for.

A token is a second password for the API: whoever changed the password (the admin,
`changepassword`, `set_password()` then `save()`) or deactivated the account means the old
credentials to stop working, so the user's tokens are deleted in the same transaction as
the change. Saves that cannot change either (`update_fields` without them, such as the
`last_login` update of every login) cost nothing extra.

The tokens' cached answers (accounts/token_cache.py) are marked stale before a token is
deleted or changed and before a user is saved, so that no process answers from an entry
that the change made wrong (a privilege taken away, a token revoked).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save, pre_delete, pre_save
from django.dispatch import receiver
from rest_framework.authtoken.models import Token, TokenProxy

from accounts import token_cache
from accounts.services import token_revoke

User = get_user_model()

_WATCHED = frozenset({"password", "is_active"})
_REVOKE = "_revoke_tokens_on_save"


@receiver(pre_save, sender=User, dispatch_uid="accounts.tokens_follow_credentials.pre")
def _note_credential_change(sender: Any, instance: Any, update_fields: Any, **_: Any) -> None:
    setattr(instance, _REVOKE, False)
    if instance.pk is None or (update_fields is not None and not _WATCHED & set(update_fields)):
        return
    before = sender.objects.filter(pk=instance.pk).values("password", "is_active").first()
    if before is None:
        return
    password_changed = before["password"] != instance.password
    deactivated = before["is_active"] and not instance.is_active
    setattr(instance, _REVOKE, password_changed or deactivated)


@receiver(post_save, sender=User, dispatch_uid="accounts.tokens_follow_credentials.post")
def _revoke_tokens(sender: Any, instance: Any, created: bool, **_: Any) -> None:
    if not created and getattr(instance, _REVOKE, False):
        token_revoke(user=instance)
        setattr(instance, _REVOKE, False)


@receiver(pre_save, sender=User, dispatch_uid="accounts.token_cache.user")
def _forget_users_tokens(sender: Any, instance: Any, update_fields: Any, **_: Any) -> None:
    if instance._state.adding or (
        update_fields is not None and set(update_fields) <= {"last_login"}
    ):
        return
    token_cache.forget_user(instance.pk)


# The admin works on TokenProxy rows, whose own signals name the proxy as sender (DRF's
# proxy deletes through Token today; both are listened to, so that stays true if it changes).
@receiver(pre_save, sender=Token, dispatch_uid="accounts.token_cache.token_save")
@receiver(pre_save, sender=TokenProxy, dispatch_uid="accounts.token_cache.proxy_save")
def _forget_changed_token(sender: Any, instance: Token, **_: Any) -> None:
    if not instance._state.adding:
        token_cache.forget(instance.key)


@receiver(pre_delete, sender=Token, dispatch_uid="accounts.token_cache.token_delete")
@receiver(pre_delete, sender=TokenProxy, dispatch_uid="accounts.token_cache.proxy_delete")
def _forget_deleted_token(sender: Any, instance: Token, **_: Any) -> None:
    token_cache.forget(instance.key)
