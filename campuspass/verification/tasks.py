"""Background housekeeping (django-tasks). Thin: each task calls one service."""

from __future__ import annotations

from django_tasks import task

from .otp import purge_stale


@task()
def purge_verification_state() -> int:
    """Delete codes older than a day, ended throttle windows and expired CAPTCHAs; to be run daily."""
    from captcha.models import CaptchaStore

    codes, counters = purge_stale()
    CaptchaStore.remove_expired()
    return codes + counters
