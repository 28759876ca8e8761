"""Platform models that belong to no business app."""

from django.conf import settings
from django.db import models


class IdempotencyRecord(models.Model):
    """The first complete response to a state-changing POST, kept for replay (docs/api.md,
    "Idempotency").

    A row exists from the moment the first request with a key starts; `response_status`
    stays empty until that request's own transaction stores its response, so a row with
    no response belongs to a request still running, or to one that died and was rolled back.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"

    @property
    def is_complete(self) -> bool:
        return self.response_status is not None


class ThrottleCounter(models.Model):
    """One throttle window of one caller (opply/throttles.py writes it in raw SQL: one
    atomic upsert per request). Used on PostgreSQL; the embedded SQLite default keeps the
    same table in a file of its own."""

    bucket = models.CharField(max_length=200, primary_key=True)
    hits = models.IntegerField()
    window_ends = models.FloatField(help_text="Unix time at which the window ends.")

    class Meta:
        db_table = "opply_throttlecounter"

    def __str__(self) -> str:
        return f"{self.bucket}: {self.hits}"
