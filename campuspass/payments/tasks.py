"""Periodic housekeeping of the payments adapter."""

from django_tasks import task

from .notifications import prune_used_nonces, purge_refused_notifications


@task()
def prune_used_nonces_task() -> int:
    """Daily: forget nonces older than a day (their timestamps are refused anyway)."""
    return prune_used_nonces()


@task()
def purge_refused_notifications_task() -> int:
    """Daily: delete refused notification rows past PAYMENT_REFUSED_NOTIFICATION_DAYS."""
    return purge_refused_notifications()
