from django.apps import AppConfig


class VerificationConfig(AppConfig):
    name = "campuspass.verification"
    verbose_name = "短信验证与证件照片"
    # The part of the private store this app's service lists for backups (core.backup asks).
    backup_prefix = "id-photos/"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)

    def backup_files(self) -> dict[str, dict]:
        """The ID photos a backup must bring back, read through the photo service."""
        from .documents import backup_listing

        return backup_listing()
