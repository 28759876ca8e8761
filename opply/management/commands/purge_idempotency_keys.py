"""`python manage.py purge_idempotency_keys`: drop Idempotency-Key records past their TTL.

Cheap enough to run from cron every few minutes: one DELETE on the indexed `created_at`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from opply.models import IdempotencyRecord


class Command(BaseCommand):
    help = (
        "Delete Idempotency-Key records older than IDEMPOTENCY_KEY_TTL_HOURS "
        "and print how many were deleted."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        ttl_hours = settings.IDEMPOTENCY_KEY_TTL_HOURS
        cutoff = timezone.now() - timedelta(hours=ttl_hours)
        # Nothing refers to these rows, so Django issues a single DELETE ... WHERE.
        deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
        self.stdout.write(f"Deleted {deleted} idempotency keys older than {ttl_hours} hours.")
