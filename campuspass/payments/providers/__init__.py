"""`get_provider()`: the provider named by settings.PAYMENT_PROVIDER, built once per process."""

import threading

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from .base import (
    BillRow,
    JsapiPayment,
    Notification,
    NotificationRejected,
    PaymentProvider,
    PaymentProviderError,
    RefundState,
    TradeState,
)

__all__ = [
    "BillRow",
    "JsapiPayment",
    "Notification",
    "NotificationRejected",
    "PaymentProvider",
    "PaymentProviderError",
    "RefundState",
    "TradeState",
    "get_provider",
    "reset_provider",
]

_lock = threading.Lock()
_provider: PaymentProvider | None = None


def get_provider() -> PaymentProvider:
    global _provider
    with _lock:
        if _provider is None:
            name = settings.PAYMENT_PROVIDER
            if name == "simulator":
                from .simulator import SimulatorProvider

                _provider = SimulatorProvider()
            elif name == "wechatpay":
                from .wechatpay import WeChatPayProvider

                _provider = WeChatPayProvider.from_settings()
            else:
                raise ImproperlyConfigured(f"PAYMENT_PROVIDER 应为 simulator 或 wechatpay，而不是 {name!r}")
        return _provider


def reset_provider() -> None:
    global _provider
    with _lock:
        _provider = None


@receiver(setting_changed)
def _reset_on_setting_change(*, setting, **kwargs):
    if setting.startswith(("PAYMENT_", "WECHATPAY_", "SITE_URL")):
        reset_provider()
