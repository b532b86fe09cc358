"""Backends for tests, loaded through SMS_BACKEND as dotted paths."""

from __future__ import annotations

from campuspass.sms.backends.base import BaseSmsBackend, SendResult, SmsMessage

calls: list[SmsMessage] = []

# Parameters each vendor accepts, for outbox rows made directly in tests.
VALID_PARAMS = {
    "otp": {"code": "123456", "minutes": "5"},
    "rejected": {"year": "2026", "plate": "京A12345", "reason": "照片不清晰"},
    "refunded": {"year": "2026", "plate": "京A12345", "amount": "150.00", "when": "2026年3月5日"},
}


class ExplodingBackend(BaseSmsBackend):
    """Fails the way a careless SDK would: with the number and the text in the exception."""

    def send(self, message: SmsMessage) -> SendResult:
        calls.append(message)
        raise ConnectionError(f"cannot deliver to +86{message.phone}: {message.text}")


class RefusingBackend(BaseSmsBackend):
    def send(self, message: SmsMessage) -> SendResult:
        calls.append(message)
        return SendResult(ok=False, provider_id="req-1", error="isv.BUSINESS_LIMIT_CONTROL: 触发流控")
