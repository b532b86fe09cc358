"""Settings for the test suite: same as development, but fast hashing and isolated state."""

import os
import tempfile

from .base import *  # noqa: F403
from .base import CACHES

SECRET_KEY = os.environ.get("SECRET_KEY", "test-secret-key-not-for-production")  # noqa: S105
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
PRIVATE_STORAGE_ROOT = __import__("pathlib").Path(tempfile.mkdtemp(prefix="campuspass-private-"))
CACHES["progress"] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "progress"}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "id_photos": {"BACKEND": "campuspass.verification.storage.PrivatePhotoStorage"},
}
# Tasks run in-process, at once, so tests see their effects without a worker.
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
SMS_BACKEND = "locmem"
SMS_FILE_PATH = str(PRIVATE_STORAGE_ROOT / "sms.jsonl")
PAYMENT_PROVIDER = "simulator"
PAYMENT_SIMULATOR_DIR = PRIVATE_STORAGE_ROOT / "paysim"
SITE_URL = "http://testserver"
STATIC_ROOT = PRIVATE_STORAGE_ROOT / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Threads in the concurrency tests open their own connections; persistent ones would outlive the test and
# keep the test database from being dropped.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
DATABASES["default"]["CONN_HEALTH_CHECKS"] = False  # noqa: F405
# The dashboard computed on every view, so a test sees its own changes at once (tests/perf turns the
# cache on to test it).
DASHBOARD_CACHE_SECONDS = 0
