"""Structured logs (decision 0020): every log line carries the request id, the task id, and the order
number / out_trade_no it is about, as fields; no personal data.

- `RequestContextMiddleware` takes the request id nginx sends (`X-Request-ID: $request_id`) or makes
  one, puts it on every log line of the request and returns it in the response header, so a staff
  member's complaint ("请求编号 …") leads to the lines.
- The worker's `task_started` / `task_finished` signals put the task id and name on the task's lines.
- `bind(order_no=…, out_trade_no=…)` adds the business keys; the audit writer binds them for every
  state change, so each move has a log line with its order number.
- `ContextFilter` copies those fields onto every record; `RedactFilter` masks mainland mobile numbers
  and ID-card numbers in any message that slips one in.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from contextlib import contextmanager

FIELDS = ("request_id", "task_id", "task", "order_no", "out_trade_no")
_context: contextvars.ContextVar[dict] = contextvars.ContextVar("campuspass_log_context", default={})  # noqa: B039
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def current() -> dict:
    return _context.get()


def bind(**fields: str | None) -> None:
    """Add fields to the current request's / task's log context (None values are ignored)."""
    values = {k: str(v) for k, v in fields.items() if v not in (None, "") and k in FIELDS}
    if values:
        _context.set({**_context.get(), **values})


@contextmanager
def scope(**fields: str | None):
    token = _context.set({})
    bind(**fields)
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get()
        for name in FIELDS:
            if not hasattr(record, name):
                setattr(record, name, context.get(name, ""))
        return True


# 11-digit mainland mobiles and 18-character ID-card numbers, not inside longer digit runs (order
# numbers and out_trade_no are longer or carry letters, so they stay readable).
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")


def redact(text: str) -> str:
    text = _ID_CARD.sub(r"\1********\2", text)
    return _PHONE.sub(r"\1****\2", text)


class RedactFilter(logging.Filter):
    """Last line of defence: the code never logs personal data on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        with scope(request_id=request_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


def _task_started(sender, task_result, **kwargs):
    bind(task_id=str(task_result.id), task=task_result.task.name)


def _task_finished(sender, task_result, **kwargs):
    context = {
        k: v for k, v in _context.get().items() if k not in {"task_id", "task", "order_no", "out_trade_no"}
    }
    _context.set(context)


def connect_task_signals() -> None:
    from django_tasks.signals import task_finished, task_started

    task_started.connect(_task_started, dispatch_uid="campuspass-log-task-started")
    task_finished.connect(_task_finished, dispatch_uid="campuspass-log-task-finished")
