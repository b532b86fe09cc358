from django.apps import AppConfig


class GatesConfig(AppConfig):
    name = "campuspass.gates"
    verbose_name = "道闸"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import signals  # noqa: F401 - connects the registry's "plate changed" nudges
