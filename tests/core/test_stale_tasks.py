"""Task rows left RUNNING by a worker killed mid-task (django-tasks-db has no lease) are marked failed
by the every-minute housekeeping, and counted in /metrics (issue 12)."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from campuspass.core import housekeeping

pytestmark = pytest.mark.django_db


@pytest.fixture
def db_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.TASK_STALE_AFTER_SECONDS = 600


def running(worker="host-b-1"):
    """A task a worker has claimed (as db_worker does), and then nothing more."""
    from django_tasks_db.models import DBTaskResult

    from campuspass.payments.tasks import prune_used_nonces_task

    result = prune_used_nonces_task.enqueue()
    row = DBTaskResult.objects.get(pk=result.id)
    row.claim(worker)
    return row


def test_a_task_running_longer_than_the_bound_is_marked_failed_with_a_note(db_tasks):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        killed = running()
    with time_machine.travel(start + dt.timedelta(seconds=300), tick=False):
        recent = running(worker="host-a-1")
        assert housekeeping.fail_stale_tasks() == 0  # 5 minutes is within the bound: still working
    later = start + dt.timedelta(seconds=601)
    with time_machine.travel(later, tick=False):
        assert housekeeping.fail_stale_tasks() == 1
        assert housekeeping.fail_stale_tasks() == 0  # once
    killed.refresh_from_db()
    recent.refresh_from_db()
    assert killed.status == "FAILED" and killed.finished_at == later
    assert killed.exception_class_path == housekeeping.STALE_TASK_EXCEPTION
    assert "被强制结束" in killed.traceback and "host-b-1" in killed.traceback
    assert recent.status == "RUNNING"
    # the API a caller uses sees a failed task, with the note as its error
    result = killed.task_result
    assert result.status.name == "FAILED"
    assert result.errors[0].exception_class_path == housekeeping.STALE_TASK_EXCEPTION


def test_a_worker_that_finishes_meanwhile_keeps_its_result(db_tasks):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        row = running()
    with time_machine.travel(start + dt.timedelta(hours=2), tick=False):
        row.set_successful(None)  # slow but alive: it finished before the housekeeping came round
        assert housekeeping.fail_stale_tasks() == 0
    row.refresh_from_db()
    assert row.status == "SUCCESSFUL"


def test_nothing_to_do_without_the_database_backend():
    assert housekeeping.fail_stale_tasks() == 0
    assert housekeeping.task_row_state() is None


def test_the_scheduler_runs_it_every_minute_itself(settings):
    jobs = dict(settings.PERIODIC_TASKS)
    assert jobs["campuspass.core.housekeeping.fail_stale_tasks"] == "* * * * *"
    # a plain function (no worker needed: every worker may be the dead one)
    assert not hasattr(housekeeping.fail_stale_tasks, "enqueue")


def test_metrics_count_stale_and_abandoned_rows(client, db_tasks, settings):
    settings.METRICS_TOKEN = ""
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        running()
        running()
    with time_machine.travel(start + dt.timedelta(seconds=700), tick=False):
        body = client.get("/metrics").content.decode()
        assert "campuspass_task_running_stale 2.0" in body
        assert "campuspass_task_abandoned 0.0" in body
        assert housekeeping.fail_stale_tasks() == 2
        body = client.get("/metrics").content.decode()
    assert "campuspass_task_running_stale 0.0" in body
    assert "campuspass_task_abandoned 2.0" in body
