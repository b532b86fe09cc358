from django.apps import AppConfig, apps


class CoreConfig(AppConfig):
    name = "campuspass.core"
    label = "core"
    verbose_name = "系统"

    def ready(self):
        # The task queue's admin section, in Chinese like the rest (its app name is not part of any
        # migration, so this changes nothing in the database).
        if apps.is_installed("django_tasks_db"):
            apps.get_app_config("django_tasks_database").verbose_name = "后台任务"
        from . import lookups  # noqa: F401 -- registers `field__any` (core/lookups.py)
        from .logcontext import connect_task_signals

        connect_task_signals()
