"""Periodic housekeeping of the payments adapter."""

from django.conf import settings
from django_tasks import task

from .notifications import prune_used_nonces


@task()
def prune_used_nonces_task() -> int:
    """Daily: forget nonces older than a day (their timestamps are refused anyway)."""
    return prune_used_nonces()


@task()
def simulator_deliver_task() -> int:
    """Development only: the simulator's due notifications and refund settlements."""
    if settings.PAYMENT_PROVIDER != "simulator":
        return 0
    from .simulator.bank import deliver_due_notifications

    return deliver_due_notifications()
