"""Background work of the simulator (django-tasks: db_worker in development, immediate in tests)."""

from django_tasks import task


@task()
def deliver_notification_task(notification_id: int) -> bool | None:
    from .bank import attempt_delivery

    return attempt_delivery(notification_id)


@task()
def settle_refund_task(out_refund_no: str) -> str:
    from .bank import settle_refund

    return settle_refund(out_refund_no).status


@task()
def deliver_due_notifications_task() -> int:
    from .bank import deliver_due_notifications

    return deliver_due_notifications()
