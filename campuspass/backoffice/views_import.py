"""导入 (administrators): the registry import in the back office — upload, the preview (with every
pass the file would give to another person or vehicle), and the confirmation. The same import jobs
and tasks as the Django admin's screen (registry/tasks.py)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from campuspass.core.errors import CampusPassError
from campuspass.registry.columns import OPTIONAL, REQUIRED
from campuspass.registry.models import ImportJob
from campuspass.registry.tasks import confirm_import, get_progress, import_job_create
from campuspass.registry.uploads import ImportUploadForm

from .roles import role_required

SCREEN = "import"
RUNNING = {
    ImportJob.State.UPLOADED,
    ImportJob.State.PREVIEWING,
    ImportJob.State.CONFIRMED,
    ImportJob.State.IMPORTING,
}


@role_required(SCREEN)
def index(request):
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        job = import_job_create(
            upload=form.cleaned_data["file"], year=form.cleaned_data["year"], acting_user=request.user
        )
        return redirect("backoffice:import-job", job_id=job.pk)
    return render(
        request,
        "backoffice/import/index.html",
        {
            "screen": SCREEN,
            "form": form,
            "recent_jobs": ImportJob.objects.select_related("created_by")[:10],
            "required_columns": REQUIRED,
            "optional_columns": OPTIONAL,
            "max_mb": settings.IMPORT_MAX_UPLOAD_BYTES // 1048576,
        },
    )


@role_required(SCREEN)
def job(request, job_id):
    job = get_object_or_404(ImportJob.objects.select_related("created_by"), pk=job_id)
    progress = get_progress(job.pk) or {}
    return render(
        request,
        "backoffice/import/job.html",
        {
            "screen": SCREEN,
            "job": job,
            "running": job.state in RUNNING,
            "progress": progress,
            "result": job.report if job.state == ImportJob.State.DONE else job.preview,
            "is_preview": job.state != ImportJob.State.DONE,
            "can_confirm": job.state == ImportJob.State.PREVIEWED,
        },
    )


@role_required(SCREEN)
@require_POST
def confirm(request, job_id):
    job = get_object_or_404(ImportJob, pk=job_id)
    try:
        confirmed = confirm_import(
            job, acting_user=request.user, moves_confirmed=request.POST.get("confirm_moves") == "1"
        )
    except CampusPassError as exc:
        messages.error(request, exc.message)
    else:
        if confirmed:
            messages.success(request, "已确认，正在导入。完成后本页显示导入结果。")
        else:
            messages.warning(request, "这个导入任务已经确认过或无法导入，没有重复执行。")
    return redirect("backoffice:import-job", job_id=job.pk)
