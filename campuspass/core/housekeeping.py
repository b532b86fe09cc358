"""Periodic housekeeping that is not any app's business state."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

logger = logging.getLogger(__name__)

TASK_RESULT_DAYS = 14
# What a task row given up by `fail_stale_tasks` says in its exception and traceback columns (the
# admin's task list shows them; `/metrics` counts the rows by this path).
STALE_TASK_EXCEPTION = "campuspass.core.housekeeping.StaleTask"
STALE_TASK_NOTE = (
    "任务运行超过 {seconds} 秒仍未结束，执行它的后台进程已不在（例如被强制结束）；"
    "此记录由定时清理标记为失败。业务状态由各自的定时检查补齐，无需手工重试。\n"
    "StaleTask: RUNNING since {started} (worker {workers}); marked failed at {now} by the housekeeping."
)


def _database_backend() -> bool:
    return settings.TASKS["default"]["BACKEND"] == "django_tasks_db.DatabaseBackend"


def prune_task_results() -> bool:
    """Daily: forget finished background-task results older than two weeks (the database task
    backend keeps one row per task run). Returns whether it ran."""
    if not _database_backend():
        return False
    call_command("prune_db_task_results", min_age_days=TASK_RESULT_DAYS, verbosity=0)
    return True


def stale_cutoff(now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()) - dt.timedelta(seconds=settings.TASK_STALE_AFTER_SECONDS)


def fail_stale_tasks(now: dt.datetime | None = None) -> int:
    """Every minute, run by the scheduler itself (so it works with every worker dead): a task row
    RUNNING for longer than TASK_STALE_AFTER_SECONDS belongs to a worker that was killed mid-task —
    django-tasks-db has no lease, so nothing else would ever finish it. Such rows are marked FAILED
    with a note (STALE_TASK_EXCEPTION). Each row is changed by one guarded UPDATE, so a worker that
    finishes at the same moment keeps its own result. The task is not run again: the jobs that own
    the business state (unpaid orders, refunds, SMS, gates) pick up what it left, each on its own
    schedule. Returns how many rows were marked."""
    if not _database_backend():
        return 0
    from django_tasks_db.models import DBTaskResult, TaskResultStatus

    now = now or timezone.now()
    cutoff = stale_cutoff(now)
    marked = 0
    stale = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, started_at__lt=cutoff)
    for row in stale.only("id", "task_path", "started_at", "worker_ids"):
        note = STALE_TASK_NOTE.format(
            seconds=settings.TASK_STALE_AFTER_SECONDS,
            started=row.started_at.isoformat(timespec="seconds"),
            workers=", ".join(row.worker_ids or []) or "?",
            now=now.isoformat(timespec="seconds"),
        )
        changed = DBTaskResult.objects.filter(
            pk=row.pk, status=TaskResultStatus.RUNNING, started_at__lt=cutoff
        ).update(
            status=TaskResultStatus.FAILED,
            finished_at=now,
            exception_class_path=STALE_TASK_EXCEPTION,
            traceback=note,
        )
        if changed:
            marked += 1
            logger.warning(
                "task %s (%s) left RUNNING since %s by a worker that is gone: marked failed",
                row.pk,
                row.task_path,
                row.started_at.isoformat(timespec="seconds"),
                extra={"task_id": str(row.pk), "task": row.task_path},
            )
    return marked


def task_row_state(now: dt.datetime | None = None) -> tuple[int, int] | None:
    """(rows RUNNING beyond the bound and not yet marked, rows marked failed by `fail_stale_tasks`
    still kept) for /metrics, or None without the database backend."""
    if not _database_backend():
        return None
    from django_tasks_db.models import DBTaskResult, TaskResultStatus

    stale = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, started_at__lt=stale_cutoff(now))
    abandoned = DBTaskResult.objects.filter(
        status=TaskResultStatus.FAILED, exception_class_path=STALE_TASK_EXCEPTION
    )
    return stale.count(), abandoned.count()
