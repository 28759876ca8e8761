"""Who is calling: what the accounts app stores beyond Django's users and DRF's tokens."""

from django.db import models


class LoginFailure(models.Model):
    """One failed (or still pending) login, counted per username and per client address.

    Each attempt inserts its rows before the password is checked and then counts them, so
    parallel attempts can never slip past the limit together; a successful login deletes its
    rows again (successes are never counted).
    """

    key = models.CharField(max_length=100)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "opply_loginfailure"  # created by the opply app before this app existed
        indexes = [models.Index(fields=["key", "created_at"], name="login_failure_key_time")]

    def __str__(self) -> str:
        return f"{self.key} at {self.created_at:%Y-%m-%d %H:%M:%S}"
