from django.apps import AppConfig


class VerificationConfig(AppConfig):
    name = "campuspass.verification"
    verbose_name = "短信验证与证件照片"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
