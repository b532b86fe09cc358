"""The benchmark server's settings: production settings (DEBUG off, whitenoise, PostgreSQL from
DATABASE_URL) served over plain HTTP on loopback, plus the two reference views of bench/urls.py.
Never used by the product: only `bench/run.py` points gunicorn at this module."""

import os

os.environ.setdefault("ALLOW_SIMULATOR_IN_PRODUCTION", "1")
os.environ.setdefault("ALLOW_TEST_SMS_IN_PRODUCTION", "1")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
# Production settings insist on an https SITE_URL (WeChat's notify_url and OAuth); the benchmark posts
# its notifications to loopback itself and never leaves it.
if not os.environ.get("SITE_URL", "").startswith("https://"):
    os.environ["SITE_URL"] = "https://127.0.0.1"

from campuspass.settings.production import *  # noqa: E402, F403
from campuspass.settings.production import BASE_DIR, TEMPLATES  # noqa: E402

ROOT_URLCONF = "bench.urls"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
# Loopback HTTP: the browser-only cookie flags would make the (header-carrying) load generator no
# different, but Django's CSRF check must not require HTTPS referers.
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
TEMPLATES[0]["DIRS"] = [*TEMPLATES[0]["DIRS"], BASE_DIR / "bench" / "templates"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
# The flow benchmark (bench/flow.py): the payment simulator's task workers post their notifications
# to this run's loopback server (plain HTTP; the production check above wants https and has passed).
if os.environ.get("BENCH_SITE_URL"):
    SITE_URL = os.environ["BENCH_SITE_URL"].rstrip("/")
