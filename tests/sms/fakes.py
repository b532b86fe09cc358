"""Backends for tests, loaded through SMS_BACKEND as dotted paths."""

from __future__ import annotations

from campuspass.sms.backends.base import BaseSmsBackend, SendResult, SmsMessage

calls: list[SmsMessage] = []


class ExplodingBackend(BaseSmsBackend):
    """Fails the way a careless SDK would: with the number and the text in the exception."""

    def send(self, message: SmsMessage) -> SendResult:
        calls.append(message)
        raise ConnectionError(f"cannot deliver to +86{message.phone}: {message.text}")


class RefusingBackend(BaseSmsBackend):
    def send(self, message: SmsMessage) -> SendResult:
        calls.append(message)
        return SendResult(ok=False, provider_id="req-1", error="isv.BUSINESS_LIMIT_CONTROL: 触发流控")
