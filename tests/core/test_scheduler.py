"""The scheduler runs jobs on the wall clock of Asia/Shanghai, once per fire time however many
schedulers run, and catches up once what it missed while down (decision 0018)."""

from datetime import datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from campuspass.core import scheduler
from campuspass.core.models import PeriodicRun

SH = ZoneInfo("Asia/Shanghai")
calls = []


def quick_job():
    calls.append("ran")


class FakeTask:
    def __init__(self):
        self.enqueued = 0

    def enqueue(self):
        self.enqueued += 1
        return mock.Mock(id=f"task-{self.enqueued}")


nightly = FakeTask()
minutely = FakeTask()

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def jobs(settings):
    settings.PERIODIC_TASKS = [
        ("tests.core.test_scheduler.nightly", "30 3 * * *"),
        ("tests.core.test_scheduler.minutely", "* * * * *"),
        ("tests.core.test_scheduler.quick_job", 5),
    ]
    nightly.enqueued = minutely.enqueued = 0
    calls.clear()
    return scheduler.load_jobs()


def at(*args):
    return time_machine.travel(datetime(*args, tzinfo=SH), tick=False)


def started(jobs):
    return [path.rsplit(".", 1)[1] for path in scheduler.run_due(jobs)]


def test_a_nightly_job_runs_at_its_shanghai_hour_not_at_start_or_restart(jobs):
    with at(2026, 12, 1, 15, 0):  # first start in the afternoon: only remembered, nothing run
        assert started(jobs) == ["quick_job"]
    with at(2026, 12, 1, 23, 59):  # a restart before the fire time runs nothing again
        assert "nightly" not in started(jobs)
    with at(2026, 12, 2, 3, 29, 59):
        assert "nightly" not in started(jobs)
    with at(2026, 12, 2, 3, 30):  # 03:30 Beijing time = 19:30 UTC the day before
        assert "nightly" in started(jobs)
        assert PeriodicRun.objects.get(job__endswith="nightly", baseline=False).due_at == datetime(
            2026, 12, 1, 19, 30, tzinfo=ZoneInfo("UTC")
        )
    with at(2026, 12, 2, 3, 31):
        assert "nightly" not in started(jobs)
    assert nightly.enqueued == 1


def test_run_once_from_cron_every_minute_enqueues_a_daily_job_once_a_day(jobs):
    with at(2026, 12, 1, 0, 0):
        scheduler.run_due(jobs)
    nightly.enqueued = minutely.enqueued = 0
    start = datetime(2026, 12, 1, 0, 1, tzinfo=SH)
    for minute in range(0, 24 * 60, 13):  # a cron line calling `run_scheduler --once`, sampled
        with time_machine.travel(start + timedelta(minutes=minute), tick=False):
            call_command("run_scheduler", "--once", stdout=mock.Mock())
    assert nightly.enqueued == 1


def test_two_schedulers_enqueue_each_fire_time_once(jobs):
    with at(2026, 12, 1, 12, 0):
        scheduler.run_due(jobs)
    nightly.enqueued = minutely.enqueued = 0
    other = scheduler.load_jobs()  # a second scheduler process on another host
    with at(2026, 12, 2, 3, 30, 1):
        first = started(jobs)
        second = started(other)
    assert "nightly" in first and "nightly" not in second
    assert "minutely" in first and "minutely" not in second
    assert nightly.enqueued == 1 and minutely.enqueued == 1


def test_missed_runs_are_caught_up_once_after_downtime(jobs):
    with at(2026, 12, 1, 12, 0):
        scheduler.run_due(jobs)
    nightly.enqueued = minutely.enqueued = 0
    # Down from Tuesday noon until Thursday 09:00: two nightly runs and ~2,700 minutely runs missed.
    with at(2026, 12, 3, 9, 0, 30):
        assert started(jobs) == ["nightly", "minutely", "quick_job"]
        assert nightly.enqueued == 1 and minutely.enqueued == 1
        run = PeriodicRun.objects.filter(job__endswith="nightly").latest("due_at")
        assert timezone.localtime(run.due_at) == datetime(2026, 12, 3, 3, 30, tzinfo=SH)
    with at(2026, 12, 3, 9, 0, 40):
        assert started(jobs) == ["quick_job"]


def test_a_broken_job_does_not_stop_the_others(settings):
    settings.PERIODIC_TASKS = [
        ("tests.core.test_scheduler.missing", "* * * * *"),
        ("tests.core.test_scheduler.quick_job", 5),
    ]
    broken = scheduler.load_jobs()
    with at(2026, 12, 1, 12, 0):
        scheduler.run_due(broken)
    with at(2026, 12, 1, 12, 1):
        assert started(broken) == ["quick_job"]


def test_a_schedule_that_is_not_a_crontab_is_refused_at_start(settings):
    settings.PERIODIC_TASKS = [("tests.core.test_scheduler.nightly", "every night")]
    with pytest.raises(ValueError):
        scheduler.load_jobs()


def test_the_apscheduler_engine_fires_on_the_shanghai_clock(jobs):
    from apscheduler.schedulers.background import BackgroundScheduler

    aps = scheduler.build_scheduler(jobs, scheduler_class=BackgroundScheduler)
    with at(2026, 12, 1, 12, 0, 30):
        aps.start(paused=True)
        try:
            next_runs = {job.id.rsplit(".", 1)[1]: job.next_run_time for job in aps.get_jobs()}
        finally:
            aps.shutdown(wait=False)
    assert next_runs["nightly"] == datetime(2026, 12, 2, 3, 30, tzinfo=SH)
    assert next_runs["minutely"] == datetime(2026, 12, 1, 12, 1, tzinfo=SH)


def test_every_configured_periodic_job_exists_and_says_when_it_runs():
    from django.conf import settings
    from django.utils.module_loading import import_string

    from campuspass.settings import base

    for path, schedule in base.PERIODIC_TASKS:
        job = import_string(path)
        assert hasattr(job, "enqueue") or callable(job)
        if isinstance(schedule, str):
            scheduler.Job(path, schedule).trigger()  # parses
        else:
            assert schedule > 0 and not hasattr(job, "enqueue"), "only quick functions poll by seconds"
    assert settings.TIME_ZONE == "Asia/Shanghai"


def test_task_results_are_pruned_only_with_the_database_backend(settings):
    from campuspass.core.housekeeping import prune_task_results

    assert prune_task_results() is False  # the test settings run tasks at once: nothing is stored
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    assert prune_task_results() is True
