"""Periodic housekeeping of the payments adapter."""

from django_tasks import task

from .notifications import prune_used_nonces


@task()
def prune_used_nonces_task() -> int:
    """Daily: forget nonces older than a day (their timestamps are refused anyway)."""
    return prune_used_nonces()
