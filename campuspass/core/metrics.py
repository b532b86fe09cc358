"""Prometheus metrics (decision 0020), with the official client library `prometheus_client`.

- Request latency: a histogram filled by `LatencyMiddleware`, labelled by view name (never by path,
  which would carry order numbers). Under gunicorn with several workers set PROMETHEUS_MULTIPROC_DIR
  (deploy/ does) so every worker's samples are added up.
- Business state, read from the database at scrape time (so every app server reports the same and
  nothing is lost when a process restarts): unpaid orders, refunds by state and stuck ones, SMS
  failures, task queue depth and lag, the scheduler's last claim.

`GET /metrics` answers to a bearer token (METRICS_TOKEN) or, without one configured, to loopback
callers only; nginx also keeps it off the public site.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time

from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django.utils.module_loading import import_string
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from .net import client_ip

REQUEST_LATENCY = Histogram(
    "campuspass_http_request_duration_seconds",
    "Time from request to response, by view",
    ["method", "view", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class LatencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        start = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name if match else "") or "unmatched"
        REQUEST_LATENCY.labels(request.method, view, f"{response.status_code // 100}xx").observe(
            time.perf_counter() - start
        )
        return response


def queue_state() -> tuple[int, float] | None:
    """(tasks ready to run, seconds the oldest has waited), or None when the backend keeps no queue
    in the database (immediate backend in tests)."""
    if settings.TASKS["default"]["BACKEND"] != "django_tasks_db.DatabaseBackend":
        return None
    from django.db.models import Min
    from django_tasks_db.models import DBTaskResult

    ready = DBTaskResult.objects.ready()
    stats = ready.aggregate(oldest=Min("enqueued_at"))
    oldest = stats["oldest"]
    lag = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    return ready.count(), max(lag, 0.0)


class CoreCollector:
    """Gauges of the machinery (task queue, scheduler), computed when Prometheus scrapes. The
    business gauges come from the apps that own the data (`METRICS_COLLECTORS`), so the core
    imports nothing above it."""

    def collect(self):
        from .housekeeping import task_row_state
        from .scheduler import last_run_at

        queue = queue_state()
        if queue is not None:
            yield GaugeMetricFamily("campuspass_task_queue_depth", "Tasks ready to run", value=queue[0])
            yield GaugeMetricFamily(
                "campuspass_task_queue_lag_seconds", "Age of the oldest task ready to run", value=queue[1]
            )
        rows = task_row_state()
        if rows is not None:
            yield GaugeMetricFamily(
                "campuspass_task_running_stale",
                "Task rows RUNNING longer than TASK_STALE_AFTER_SECONDS, not yet marked failed",
                value=rows[0],
            )
            yield GaugeMetricFamily(
                "campuspass_task_abandoned",
                "Task rows marked failed because their worker died mid-task (kept 14 days)",
                value=rows[1],
            )
        last = last_run_at()
        yield GaugeMetricFamily(
            "campuspass_scheduler_last_run_timestamp_seconds",
            "When a scheduler last enqueued a periodic job (Unix time)",
            value=last.timestamp() if last else 0,
        )


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUEST_LATENCY)
    registry.register(CoreCollector())
    for path in settings.METRICS_COLLECTORS:
        registry.register(import_string(path)())
    return registry


def _allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(supplied.encode(), token.encode())
    try:
        return ipaddress.ip_address(client_ip(request)).is_loopback
    except ValueError:
        return False


def metrics_view(request):
    if not _allowed(request):
        return HttpResponseForbidden("监控指标仅对监控系统开放。", content_type="text/plain; charset=utf-8")
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
