from django.apps import AppConfig
from django.conf import settings


class PaymentsConfig(AppConfig):
    name = "campuspass.payments"
    label = "payments"
    verbose_name = "支付"

    def warm_up(self) -> None:
        """Before gunicorn forks (core.warmup): the configured provider's modules imported and the
        simulator's key loaded. `get_provider()` did both on each worker's first payment
        notification — `requests` and the SDK imported (~70 ms), the simulator's RSA key read
        (~40 ms) — and the notifications arriving meanwhile queued behind it (p99 136–197 ms in the
        full-size benchmark's first run, 24–31 ms otherwise). The provider itself is not built here:
        in certificate mode the SDK downloads the platform certificates when it is, a network call
        with no place in the master."""
        if settings.PAYMENT_PROVIDER == "simulator":
            from .providers import simulator  # noqa: F401
            from .simulator.keys import get_keys

            get_keys()
        elif settings.PAYMENT_PROVIDER == "wechatpay":
            from .providers import wechatpay  # noqa: F401
