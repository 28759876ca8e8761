"""`manage.py purge_idempotency_keys` drops keys past their time to live."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from opply.models import IdempotencyRecord
from orders.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _record(user, key: str, age: timedelta) -> IdempotencyRecord:
    record = IdempotencyRecord.objects.create(user=user, key=key, fingerprint="f" * 64)
    IdempotencyRecord.objects.filter(pk=record.pk).update(created_at=timezone.now() - age)
    return record


def test_purge_deletes_only_keys_older_than_the_ttl_in_one_query(
    settings, django_assert_num_queries
):
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 24
    user = UserFactory()
    _record(user, "old-1", timedelta(hours=25))
    _record(user, "old-2", timedelta(days=3))
    kept = _record(user, "fresh", timedelta(hours=23))
    out = StringIO()

    with django_assert_num_queries(1):
        call_command("purge_idempotency_keys", stdout=out)

    assert out.getvalue().strip() == "Deleted 2 idempotency keys older than 24 hours."
    assert list(IdempotencyRecord.objects.values_list("pk", flat=True)) == [kept.pk]


def test_purge_follows_the_configured_ttl(settings):
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 1
    user = UserFactory()
    _record(user, "two-hours", timedelta(hours=2))
    out = StringIO()

    call_command("purge_idempotency_keys", stdout=out)

    assert out.getvalue().strip() == "Deleted 1 idempotency keys older than 1 hours."
    assert not IdempotencyRecord.objects.exists()
