"""Periodic jobs on the wall clock (decision 0018).

`settings.PERIODIC_TASKS` lists every job with WHEN it runs: a five-field crontab expression read in
`settings.TIME_ZONE` (Asia/Shanghai), or a number of seconds for the few quick in-process polls (the
payment simulator's deliveries). APScheduler (the engine django-crontask is built on; django-crontask
itself needs Python 3.12) drives `manage.py run_scheduler`; this module adds what a restartable,
several-host deployment needs and APScheduler's in-memory store does not give:

* **Exactly one enqueue per fire time, however many schedulers run.** Before enqueueing, a scheduler
  claims the fire time by inserting a `PeriodicRun` row; the unique (job, due_at) constraint lets
  exactly one insert win, so a second scheduler (or a cron line calling `run_scheduler --once`) finds
  it taken and does nothing.
* **Missed runs are caught up, once.** The last claimed fire time of every job is in the database;
  after downtime the scheduler enqueues each job whose fire time passed while it was away, once (the
  missed fire times coalesce: nobody wants 300 "query unpaid orders" in a row).
* The first time a job is seen it is only recorded, not run: a new install does not reconcile at
  whatever hour it was started.

The tasks themselves stay idempotent (they lock the rows they change), so a task that runs twice
anyway (a worker killed after doing the work but before recording it) does no harm.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from django.conf import settings
from django.db import IntegrityError, close_old_connections, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

# How far back a catch-up looks: a scheduler that was down longer than this still runs each missed
# job once; it only stops walking the cron expression further back than this.
CATCH_UP_HORIZON = timedelta(days=40)
# Claimed fire times are kept this long (readiness and the audit of "did it run last night?").
KEEP_RUNS = timedelta(days=14)


@dataclass(frozen=True)
class Job:
    path: str
    schedule: str | int  # crontab expression (wall clock) or seconds (quick in-process poll)

    @property
    def is_cron(self) -> bool:
        return isinstance(self.schedule, str)

    def trigger(self) -> CronTrigger:
        return CronTrigger.from_crontab(self.schedule, timezone=ZoneInfo(settings.TIME_ZONE))

    def describe(self) -> str:
        return f"cron '{self.schedule}' ({settings.TIME_ZONE})" if self.is_cron else f"every {self.schedule}s"


def load_jobs() -> list[Job]:
    jobs = []
    for path, schedule in settings.PERIODIC_TASKS:
        if isinstance(schedule, str):
            CronTrigger.from_crontab(schedule)  # a typo fails at start, not at 03:00
        elif not (isinstance(schedule, int) and schedule > 0):
            raise ValueError(f"{path}: schedule must be a crontab expression or a number of seconds")
        jobs.append(Job(path, schedule))
    return jobs


def scheduler_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


def latest_fire_time(job: Job, since: datetime, now: datetime) -> datetime | None:
    """The latest fire time of `job` after `since` and at or before `now` (None if there is none)."""
    trigger = job.trigger()
    start = max(since, now - CATCH_UP_HORIZON)
    latest = None
    fire = trigger.get_next_fire_time(start, start)
    while fire is not None and fire <= now:
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire)
    return latest


def _claim(job: Job, due_at: datetime, now: datetime, *, enqueued: bool) -> bool:
    from .models import PeriodicRun

    try:
        with transaction.atomic():
            PeriodicRun.objects.create(
                job=job.path,
                due_at=due_at,
                claimed_at=now,
                claimed_by=scheduler_identity(),
                baseline=not enqueued,
            )
    except IntegrityError:
        return False
    return True


def _start(job: Job) -> None:
    job_callable = import_string(job.path)
    if hasattr(job_callable, "enqueue"):
        result = job_callable.enqueue()  # a task: a worker runs it
        logger.info(
            "periodic task enqueued: %s", job.path, extra={"job": job.path, "task_id": str(result.id)}
        )
    else:
        job_callable()  # a quick function: run here


def run_job_if_due(job: Job, now: datetime | None = None) -> bool:
    """Enqueue `job` if one of its fire times passed since the last claimed one and this scheduler
    wins the claim. Returns whether it was started here."""
    from .models import PeriodicRun

    now = now or timezone.now()
    if not job.is_cron:
        _start(job)
        return True
    last = (
        PeriodicRun.objects.filter(job=job.path).order_by("-due_at").values_list("due_at", flat=True).first()
    )
    if last is None:  # first sight of this job: remember "now" as the baseline, run at the next fire time
        _claim(job, now, now, enqueued=False)
        return False
    due = latest_fire_time(job, last, now)
    if due is None or not _claim(job, due, now, enqueued=True):
        return False
    if due < now - timedelta(minutes=2):
        logger.warning(
            "catching up a missed periodic run", extra={"job": job.path, "due_at": due.isoformat()}
        )
    _start(job)
    PeriodicRun.objects.filter(job=job.path, due_at__lt=now - KEEP_RUNS).delete()
    return True


def run_due(jobs: list[Job], now: datetime | None = None) -> list[str]:
    """One pass over every job (start-up catch-up, `run_scheduler --once`); returns the started paths."""
    started = []
    for job in jobs:
        try:
            if run_job_if_due(job, now):
                started.append(job.path)
        except Exception:  # one broken job must not stop the others
            logger.exception("periodic job %s failed to start", job.path, extra={"job": job.path})
    return started


def last_run_at() -> datetime | None:
    """When any scheduler last claimed a fire time (readiness: is a scheduler alive?)."""
    from .models import PeriodicRun

    return PeriodicRun.objects.order_by("-claimed_at").values_list("claimed_at", flat=True).first()


def _guarded(job: Job) -> Callable[[], None]:
    def fire() -> None:
        # APScheduler runs jobs on its own threads: drop a connection the database closed meanwhile
        # (a PostgreSQL restart) instead of failing on it forever.
        close_old_connections()
        try:
            run_due([job])
        finally:
            close_old_connections()

    return fire


def build_scheduler(jobs: list[Job] | None = None, scheduler_class=None):
    """An APScheduler scheduler with one job per entry, on the wall clock of settings.TIME_ZONE."""
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    jobs = load_jobs() if jobs is None else jobs
    tz = ZoneInfo(settings.TIME_ZONE)
    aps = (scheduler_class or BlockingScheduler)(timezone=tz)
    for job in jobs:
        trigger = job.trigger() if job.is_cron else IntervalTrigger(seconds=job.schedule, timezone=tz)
        # Late is better than never; the claim table makes a late or repeated call harmless.
        aps.add_job(
            _guarded(job), trigger, id=job.path, name=job.path, coalesce=True, misfire_grace_time=None
        )
    return aps


def run_forever() -> None:
    jobs = load_jobs()
    for job in jobs:
        logger.info("periodic job %s: %s", job.path, job.describe())
    run_due(jobs)  # catch up what was missed while no scheduler ran
    build_scheduler(jobs).start()
