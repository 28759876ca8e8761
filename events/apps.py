from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "events and webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from events import checks  # noqa: F401  (registers the deploy checks)
