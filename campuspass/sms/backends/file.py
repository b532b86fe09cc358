"""Append each message as one JSON line to settings.SMS_FILE_PATH (for development and the
end-to-end tests, which read codes from the file).

Line format: {"phone", "text", "template", "params", "sent_at" (ISO 8601, with offset)}.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from .base import BaseSmsBackend, SendResult, SmsMessage, vendor_rule_problems


class SmsBackend(BaseSmsBackend):
    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path or settings.SMS_FILE_PATH)

    def send(self, message: SmsMessage) -> SendResult:
        problems = vendor_rule_problems(message)
        if problems:  # refused as the vendor would refuse it
            return SendResult(ok=False, error=problems)
        line = json.dumps(
            {
                "phone": message.phone,
                "text": message.text,
                "template": message.template,
                "params": message.params,
                "sent_at": timezone.now().isoformat(),
            },
            ensure_ascii=False,
        )
        data = (line + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # O_APPEND plus an exclusive lock: lines from several workers never interleave, and a
        # reader that takes a shared lock never sees half a line.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        return SendResult(ok=True, provider_id="file")
