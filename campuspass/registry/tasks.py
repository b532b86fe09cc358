"""Back-office import jobs on the tasks queue: a dry-run preview, then the real import.

Each task first claims its job with a conditional UPDATE (uploaded → previewing, previewed →
importing), so a task that runs twice, or a job that is already finished, does nothing. Progress
goes to the "progress" cache, outside the import's transaction, for the job page to poll.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from campuspass.core.audit import log_action
from campuspass.core.errors import CampusPassError

from .imports import ImportFileError, import_passes
from .models import ImportJob

logger = logging.getLogger(__name__)

PROGRESS_TIMEOUT = 24 * 60 * 60
UNEXPECTED_ERROR = "处理文件时发生意外错误，未写入任何数据。请稍后重试；如果问题持续，请联系系统管理员。"


def progress_key(job_id: Any) -> str:
    return f"import-job:{job_id}"


def get_progress(job_id: Any) -> dict | None:
    return caches["progress"].get(progress_key(job_id))


def set_progress(job_id: Any, phase: str, done: int, total: int | None) -> None:
    caches["progress"].set(
        progress_key(job_id), {"phase": phase, "done": done, "total": total}, PROGRESS_TIMEOUT
    )


def stored_file(job: ImportJob) -> Path:
    return Path(settings.PRIVATE_STORAGE_ROOT) / job.stored_path


def _claim(job_id: Any, from_state: str, to_state: str) -> ImportJob | None:
    claimed = ImportJob.objects.filter(pk=job_id, state=from_state).update(state=to_state)
    if not claimed:
        logger.info("import job %s is not %s; nothing to do", job_id, from_state)
        return None
    return ImportJob.objects.select_related("created_by").get(pk=job_id)


def _run(job: ImportJob, *, dry_run: bool) -> None:
    phase = "preview" if dry_run else "import"
    set_progress(job.pk, phase, 0, None)
    fields = ["state", "error", "finished_at", "preview" if dry_run else "report"]
    try:
        report = import_passes(
            path=stored_file(job),
            file_name=job.file_name,
            year=job.year,
            dry_run=dry_run,
            acting_user=job.created_by,
            progress=lambda done, total: set_progress(job.pk, phase, done, total),
        )
    except ImportFileError as exc:
        job.state, job.error, job.finished_at = ImportJob.State.FAILED, exc.message, timezone.now()
    except Exception:
        logger.exception("import job %s failed", job.pk)
        job.state, job.error, job.finished_at = ImportJob.State.FAILED, UNEXPECTED_ERROR, timezone.now()
    else:
        if dry_run:
            job.preview, job.state = report.as_dict(), ImportJob.State.PREVIEWED
        else:
            job.report, job.state, job.finished_at = report.as_dict(), ImportJob.State.DONE, timezone.now()
        done = report.total_rows
        set_progress(job.pk, phase, done, done)
    job.save(update_fields=fields)


def import_job_create(*, upload, year: int | None, acting_user: Any) -> ImportJob:
    """The one door for an uploaded registry file (the admin's import screen and the back office's 导入):
    store it privately, create the job, audit `registry.import.uploaded`, and queue the dry-run
    preview after commit. The caller has checked size and suffix (`uploads.ImportUploadForm`)."""
    from .uploads import store_upload

    relative, sha256, size = store_upload(upload)
    with transaction.atomic():
        job = ImportJob.objects.create(
            file_name=Path(upload.name).name[:255],
            stored_path=relative,
            file_sha256=sha256,
            size=size,
            year=year,
            created_by=acting_user if getattr(acting_user, "is_authenticated", False) else None,
        )
        log_action(
            actor=acting_user,
            action="registry.import.uploaded",
            obj=job,
            data={"file": job.file_name, "size": size, "sha256": sha256, "year": year},
        )
        transaction.on_commit(lambda: preview_import.enqueue(str(job.pk)))
    return job


def moves_to_confirm(job: ImportJob) -> int:
    """How many passes the previewed import gives to another person or vehicle."""
    preview = job.preview or {}
    return int(preview.get("moved_total") or len(preview.get("moved") or []))


def confirm_import(job: ImportJob, *, acting_user: Any = None, moves_confirmed: bool = False) -> bool:
    """A person confirmed the preview: queue the import once (audited `registry.import.confirmed`).
    False when the job was not waiting for a confirmation (already confirmed, done or failed). When
    the preview moves passes to another person or vehicle, the person must have confirmed those too
    (``moves_confirmed``), else CampusPassError."""
    moved = moves_to_confirm(job)
    if moved and not moves_confirmed:
        raise CampusPassError(
            f"这次导入会把 {moved} 张通行证转到其他人或其他车辆（见预览中的“通行证转移”）。"
            "转移后原车主将无法线上续费。请逐条核对，勾选“我已核对以上转移”后再确认导入。",
            code="moves_unconfirmed",
        )
    with transaction.atomic():
        if not ImportJob.objects.filter(pk=job.pk, state=ImportJob.State.PREVIEWED).update(
            state=ImportJob.State.CONFIRMED
        ):
            return False
        log_action(
            actor=acting_user,
            action="registry.import.confirmed",
            obj=job,
            data={"file": job.file_name, "moves_confirmed": moved},
        )
        transaction.on_commit(lambda: run_import.enqueue(str(job.pk)))
    return True


@task()
def preview_import(job_id: str) -> str:
    """The dry run: what the import would do, with every rejected row."""
    job = _claim(job_id, ImportJob.State.UPLOADED, ImportJob.State.PREVIEWING)
    if job is None:
        return "skipped"
    _run(job, dry_run=True)
    return job.state


@task()
def run_import(job_id: str) -> str:
    """The import itself, after a person confirmed the preview (see `confirm_import`)."""
    job = _claim(job_id, ImportJob.State.CONFIRMED, ImportJob.State.IMPORTING)
    if job is None:
        return "skipped"
    _run(job, dry_run=False)
    return job.state
