"""Periodic housekeeping that is not any app's business state."""

from django.conf import settings
from django.core.management import call_command

TASK_RESULT_DAYS = 14


def prune_task_results() -> bool:
    """Daily: forget finished background-task results older than two weeks (the database task
    backend keeps one row per task run). Returns whether it ran."""
    if settings.TASKS["default"]["BACKEND"] != "django_tasks_db.DatabaseBackend":
        return False
    call_command("prune_db_task_results", min_age_days=TASK_RESULT_DAYS, verbosity=0)
    return True
