"""For tests: keep each message in `outbox` (like django.core.mail.outbox) so tests can read codes."""

from __future__ import annotations

from .base import BaseSmsBackend, SendResult, SmsMessage, vendor_rule_problems

outbox: list[SmsMessage] = []


class SmsBackend(BaseSmsBackend):
    def send(self, message: SmsMessage) -> SendResult:
        problems = vendor_rule_problems(message)
        if problems:  # refused as the vendor would refuse it
            return SendResult(ok=False, error=problems)
        outbox.append(message)
        return SendResult(ok=True, provider_id=f"locmem-{len(outbox)}")
