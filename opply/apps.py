from django.apps import AppConfig
from django.core.management import call_command
from django.db.models.signals import post_migrate


def ensure_cache_table(sender, using, **kwargs):
    """Create the database cache table if it is missing, on every `migrate`: a database first
    migrated with REDIS_URL set has none (the migration that creates it ran as a no-op), and
    serving it later without REDIS_URL would fail every request. A no-op with Redis."""
    call_command("createcachetable", database=using, verbosity=0)


class OpplyConfig(AppConfig):
    name = "opply"
    verbose_name = "opply platform"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        post_migrate.connect(ensure_cache_table, sender=self)
