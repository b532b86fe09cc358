"""Import jobs on the tasks queue: state changes, progress, re-runs that do nothing."""

import shutil

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from campuspass.core.models import LogEntry
from campuspass.registry import tasks
from campuspass.registry.models import ImportJob, Pass

from .test_imports import row, write_csv

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(tmp_path):
    source = write_csv(tmp_path / "a.csv", [row(), row(工号="x y", 通行证编号="B2", 车牌号="京B12345")])
    folder = settings.PRIVATE_STORAGE_ROOT / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, folder / "job-a.csv")
    user = get_user_model().objects.create_user("clerk", password="x" * 12)
    return ImportJob.objects.create(
        file_name="a.csv", stored_path="imports/job-a.csv", file_sha256="0" * 64, size=1, created_by=user
    )


def test_preview_then_import_and_reruns_do_nothing(job):
    assert tasks.run_import.call(str(job.pk)) == "skipped"  # not previewed yet
    assert tasks.preview_import.call(str(job.pk)) == ImportJob.State.PREVIEWED
    job.refresh_from_db()
    assert job.preview["imported"] == 1 and job.preview["rejected"][0]["row"] == 3
    assert tasks.get_progress(job.pk)["done"] == job.preview["total_rows"]
    assert Pass.objects.count() == 0

    assert tasks.preview_import.call(str(job.pk)) == "skipped"
    assert tasks.run_import.call(str(job.pk)) == "skipped"  # previewed but not confirmed
    job.state = ImportJob.State.CONFIRMED
    job.save()
    assert tasks.run_import.call(str(job.pk)) == ImportJob.State.DONE
    job.refresh_from_db()
    assert job.report["imported"] == 1 and job.finished_at is not None
    assert LogEntry.objects.get(action="registry.import.completed").actor == job.created_by

    assert tasks.run_import.call(str(job.pk)) == "skipped"
    assert tasks.preview_import.call(str(job.pk)) == "skipped"
    assert LogEntry.objects.filter(action="registry.import.completed").count() == 1


def test_enqueue_runs_with_the_immediate_backend(job):
    tasks.preview_import.enqueue(str(job.pk))
    job.refresh_from_db()
    assert job.state == ImportJob.State.PREVIEWED


def test_missing_file_fails_the_job_with_a_chinese_message(job):
    (settings.PRIVATE_STORAGE_ROOT / job.stored_path).unlink()
    assert tasks.preview_import.call(str(job.pk)) == ImportJob.State.FAILED
    job.refresh_from_db()
    assert "无法打开文件" in job.error and job.finished_at


def test_an_unexpected_error_fails_the_job_and_writes_nothing(job, monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(tasks, "import_passes", boom)
    assert tasks.preview_import.call(str(job.pk)) == ImportJob.State.FAILED
    job.refresh_from_db()
    assert job.error == tasks.UNEXPECTED_ERROR
