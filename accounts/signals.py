"""Tokens end with the password or the account that they stand for.

A token is a second password for the API: whoever changed the password (the admin,
`changepassword`, `set_password()` then `save()`) or deactivated the account means the old
credentials to stop working, so the user's tokens are deleted in the same transaction as
the change. Saves that cannot change either (`update_fields` without them, such as the
`last_login` update of every login) cost nothing extra.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

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
