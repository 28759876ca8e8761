from django.apps import AppConfig


class OpplyConfig(AppConfig):
    name = "opply"
    verbose_name = "opply platform"
    default_auto_field = "django.db.models.BigAutoField"
