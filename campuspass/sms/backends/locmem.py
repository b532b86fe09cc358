"""For tests: keep each message in `outbox` (like django.core.mail.outbox) so tests can read codes."""

from __future__ import annotations

from .base import BaseSmsBackend, SendResult, SmsMessage

outbox: list[SmsMessage] = []


class SmsBackend(BaseSmsBackend):
    def send(self, message: SmsMessage) -> SendResult:
        outbox.append(message)
        return SendResult(ok=True, provider_id=f"locmem-{len(outbox)}")
