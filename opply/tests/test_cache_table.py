import pytest
from django.core.management import call_command
from django.db import connection

TABLE = "opply_cache_missing"


@pytest.mark.django_db
def test_migrate_creates_a_missing_cache_table(settings):
    """A database migrated while the cache was Redis has no cache table; the next `migrate`
    (nothing left to apply) must create it before the server uses the database cache."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": TABLE,
        }
    }
    assert TABLE not in connection.introspection.table_names()

    call_command("migrate", verbosity=0)

    assert TABLE in connection.introspection.table_names()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {TABLE}")
        assert cursor.fetchone() == (0,)
