"""Liveness and readiness (decision 0020), with django-health-check.

- `/health/live/`  — the process answers (no dependency touched): for systemd/monitoring restarts.
- `/health/ready/` — the database answers, the cache (Redis when configured) stores and returns a
  value, the private file store accepts a file, the task queue is not lagging, and a scheduler
  claimed a periodic job recently. 200 when all pass, 500 with the failing check named otherwise.
  `?format=json` gives a machine-readable answer.
"""

from __future__ import annotations

import dataclasses
import datetime

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import JsonResponse
from django.urls import path
from django.utils import timezone
from health_check import checks as library_checks
from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView


class OnRequestThread:
    """Run a synchronous check on the request's own thread and database connection (the library runs
    them in a thread pool, whose threads would each open a database connection nobody closes)."""

    async def run(self):
        await sync_to_async(self.check, thread_sensitive=True)()


@dataclasses.dataclass
class Database(OnRequestThread, library_checks.Database):
    def check(self):
        library_checks.Database.run(self)


@dataclasses.dataclass
class TaskQueueLag(OnRequestThread, HealthCheck):
    """Ready tasks wait no longer than HEALTH_QUEUE_LAG_SECONDS (a stopped or swamped worker)."""

    def check(self):
        from .metrics import queue_state

        state = queue_state()
        if state is None:
            return
        depth, lag = state
        if lag > settings.HEALTH_QUEUE_LAG_SECONDS:
            raise ServiceUnavailable(f"{depth} tasks waiting, oldest for {lag:.0f}s: is a worker running?")


@dataclasses.dataclass
class SchedulerRecentlyRan(OnRequestThread, HealthCheck):
    """A scheduler claimed a periodic job within HEALTH_SCHEDULER_STALE_SECONDS (the minutely job
    makes that at least once a minute)."""

    def check(self):
        from .scheduler import last_run_at

        last = last_run_at()
        limit = datetime.timedelta(seconds=settings.HEALTH_SCHEDULER_STALE_SECONDS)
        if last is None or timezone.now() - last > limit:
            raise ServiceUnavailable("no periodic job was enqueued recently: is run_scheduler running?")


def _checks():
    checks = [
        Database,
        ("health_check.checks.Cache", {"alias": "default"}),
        TaskQueueLag,
        SchedulerRecentlyRan,
    ]
    if settings.REDIS_URL:
        from redis.asyncio import Redis as RedisClient

        checks.append(
            (
                "health_check.contrib.redis.Redis",
                {"client_factory": lambda: RedisClient.from_url(settings.REDIS_URL)},
            )
        )
    return checks


class ReadinessView(HealthCheckView):
    def get_checks(self):
        self.checks = _checks()
        return super().get_checks()


def live(request):
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("live/", live, name="health-live"),
    path("ready/", ReadinessView.as_view(), name="health-ready"),
]
