"""Background sending (django-tasks). Thin: each task calls one service."""

from __future__ import annotations

from django_tasks import task

from .services import sms_retry_failed, sms_send


@task()
def send_sms(message_id: int) -> str | None:
    """Send one outbox message; returns its status after the attempt."""
    message = sms_send(message_id=message_id)
    return message.status if message else None


@task()
def retry_failed_sms() -> int:
    """Send again failed messages with fewer than 3 attempts; to be run every few minutes."""
    return sms_retry_failed()
