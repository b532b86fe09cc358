"""Production: everything secret or machine-specific must come from the environment."""

import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import SECRET_KEY, env_bool

if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set in the environment for production.")

DEBUG = False
# campuspass/wsgi.py imports every view and compiles every template as the application loads — in
# gunicorn's master (preload_app), before it forks the workers (campuspass/core/warmup.py).
WARM_UP_ON_LOAD = env_bool("WARM_UP_ON_LOAD", True)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Preloading HSTS is a commitment for the whole domain that the university's domain owner makes.
SILENCED_SYSTEM_CHECKS = ["security.W021"]

# The development stand-ins must never serve real staff: the simulator takes no money and the
# console/file SMS backends would write one-time codes into logs and files.
if PAYMENT_PROVIDER == "simulator" and not env_bool("ALLOW_SIMULATOR_IN_PRODUCTION"):  # noqa: F405
    raise ImproperlyConfigured(
        "PAYMENT_PROVIDER is 'simulator' in production: set PAYMENT_PROVIDER=wechatpay and the WECHATPAY_* "
        "variables (or ALLOW_SIMULATOR_IN_PRODUCTION=1 for a staging site)."
    )
if SMS_BACKEND in {"console", "file", "locmem"} and not env_bool("ALLOW_TEST_SMS_IN_PRODUCTION"):  # noqa: F405
    raise ImproperlyConfigured(
        f"SMS_BACKEND is '{SMS_BACKEND}' in production: set SMS_BACKEND=aliyun or tencent with its credentials "  # noqa: F405
        "(or ALLOW_TEST_SMS_IN_PRODUCTION=1 for a staging site)."
    )

# WeChat Pay only calls https notify_url addresses, and OAuth redirects must be https too: both are
# built from SITE_URL.
if not SITE_URL.startswith("https://"):  # noqa: F405
    raise ImproperlyConfigured(
        f"SITE_URL must be an https:// address in production (WeChat Pay notifications and OAuth need it), "
        f"not {SITE_URL!r}."  # noqa: F405
    )
# --- Logs (issue #12): one JSON object per line unless LOG_FORMAT says otherwise ---------------
if "LOG_FORMAT" not in os.environ:
    LOGGING["handlers"]["console"]["formatter"] = "json"  # noqa: F405
