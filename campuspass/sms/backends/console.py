"""DEVELOPMENT ONLY: print each message to stdout.

This is the one place in CampusPass where a phone number and a message text (including a
verification code) may be printed, so that a developer can log in without a real SMS. Never
configure it in production.
"""

from __future__ import annotations

import sys
import threading

from django.utils import timezone

from .base import BaseSmsBackend, SendResult, SmsMessage, vendor_rule_problems


class SmsBackend(BaseSmsBackend):
    _lock = threading.Lock()

    def __init__(self, stream=None) -> None:
        self.stream = stream

    def send(self, message: SmsMessage) -> SendResult:
        problems = vendor_rule_problems(message)
        if problems:  # refused as the vendor would refuse it
            return SendResult(ok=False, error=problems)
        stream = self.stream or sys.stdout
        sent_at = timezone.localtime().isoformat(timespec="seconds")
        with self._lock:
            stream.write(f"[SMS {sent_at}] to {message.phone} ({message.template}): {message.text}\n")
            stream.flush()
        return SendResult(ok=True, provider_id="console")
