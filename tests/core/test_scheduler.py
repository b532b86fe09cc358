import pytest

from campuspass.core import scheduler

calls = []


def quick_job():
    calls.append("ran")


class FakeTask:
    def __init__(self):
        self.enqueued = 0

    def enqueue(self):
        self.enqueued += 1


fake_task = FakeTask()


def test_jobs_run_on_their_interval(settings):
    settings.PERIODIC_TASKS = [
        ("tests.core.test_scheduler.fake_task", 60),
        ("tests.core.test_scheduler.quick_job", 5),
    ]
    calls.clear()
    fake_task.enqueued = 0
    jobs = scheduler.load_jobs()
    assert scheduler.run_due(jobs, 1000.0) == [
        "tests.core.test_scheduler.fake_task",
        "tests.core.test_scheduler.quick_job",
    ]
    assert scheduler.run_due(jobs, 1004.0) == []
    assert scheduler.run_due(jobs, 1005.0) == ["tests.core.test_scheduler.quick_job"]
    assert scheduler.run_due(jobs, 1060.0) == [
        "tests.core.test_scheduler.fake_task",
        "tests.core.test_scheduler.quick_job",
    ]
    assert fake_task.enqueued == 2 and calls == ["ran", "ran", "ran"]


def test_a_broken_job_does_not_stop_the_others(settings):
    settings.PERIODIC_TASKS = [
        ("tests.core.test_scheduler.missing", 60),
        ("tests.core.test_scheduler.quick_job", 5),
    ]
    calls.clear()
    assert scheduler.run_due(scheduler.load_jobs(), 0.0) == ["tests.core.test_scheduler.quick_job"]


def test_every_configured_periodic_job_exists():
    from django.conf import settings
    from django.utils.module_loading import import_string

    for path, every in settings.PERIODIC_TASKS:
        job = import_string(path)
        assert (hasattr(job, "enqueue") or callable(job)) and every > 0


@pytest.mark.django_db
def test_task_results_are_pruned_only_with_the_database_backend(settings):
    from campuspass.core.housekeeping import prune_task_results

    assert prune_task_results() is False  # the test settings run tasks at once: nothing is stored
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    assert prune_task_results() is True
