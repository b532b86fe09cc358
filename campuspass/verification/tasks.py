"""Background housekeeping (django-tasks). Thin: each task calls one service."""

from __future__ import annotations

from django_tasks import task

from .otp import purge_stale


@task()
def purge_verification_state() -> int:
    """Delete codes older than a day and ended throttle windows; to be run daily."""
    codes, counters = purge_stale()
    return codes + counters
