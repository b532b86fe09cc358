"""SMS backends, chosen by settings.SMS_BACKEND like Django's EMAIL_BACKEND."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .base import BaseSmsBackend, SendResult, SmsMessage

__all__ = ["BACKENDS", "BaseSmsBackend", "SendResult", "SmsMessage", "get_backend"]

BACKENDS = {
    "console": "campuspass.sms.backends.console.SmsBackend",
    "file": "campuspass.sms.backends.file.SmsBackend",
    "locmem": "campuspass.sms.backends.locmem.SmsBackend",
    "aliyun": "campuspass.sms.backends.aliyun.SmsBackend",
    "tencent": "campuspass.sms.backends.tencent.SmsBackend",
}


def get_backend(name: str | None = None, **kwargs) -> BaseSmsBackend:
    """An instance of the backend `name` (default settings.SMS_BACKEND): a short name or a dotted
    path. Raises ImproperlyConfigured for an unknown name or a backend that is not set up."""
    name = (name if name is not None else settings.SMS_BACKEND or "").strip()
    path = BACKENDS.get(name.lower(), name)
    if "." not in path:
        raise ImproperlyConfigured(
            f"未知的短信通道 SMS_BACKEND={name!r}，可选：{' | '.join(BACKENDS)}，或后端类的完整路径。"
            f" / Unknown SMS_BACKEND {name!r}: use one of {', '.join(BACKENDS)} or a dotted path."
        )
    try:
        backend_class = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"无法加载短信通道 SMS_BACKEND={name!r}。 / Cannot import SMS_BACKEND {name!r}: {exc}"
        ) from exc
    return backend_class(**kwargs)
