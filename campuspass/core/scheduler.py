"""Periodic jobs without cron: `manage.py run_scheduler` enqueues each task of
settings.PERIODIC_TASKS on its interval; the worker (`manage.py db_worker`) runs them. A plain
function in the list (no `.enqueue`) is quick and is called by the scheduler itself. Every job is
idempotent, so a restart that runs one early does no harm."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


@dataclass
class Job:
    path: str
    every: float
    next_run: float = 0.0


def load_jobs() -> list[Job]:
    return [Job(path, float(every)) for path, every in settings.PERIODIC_TASKS]


def run_due(jobs: list[Job], now: float) -> list[str]:
    """Enqueue the jobs that are due at `now` (monotonic seconds); returns their paths."""
    started = []
    for job in jobs:
        if now < job.next_run:
            continue
        try:
            job_callable = import_string(job.path)
            if hasattr(job_callable, "enqueue"):
                job_callable.enqueue()  # a task: the worker runs it
            else:
                job_callable()  # a quick function (the simulator's deliveries): run here
            started.append(job.path)
        except Exception:  # one broken job must not stop the others
            logger.exception("could not enqueue periodic task %s", job.path)
        job.next_run = now + job.every
    return started


def run_forever(*, sleep: Callable[[float], None] = time.sleep, tick: float = 5.0) -> None:
    jobs = load_jobs()
    logger.info("scheduler started with %d periodic tasks", len(jobs))
    while True:
        run_due(jobs, time.monotonic())
        sleep(tick)
