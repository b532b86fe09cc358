"""Suite-wide isolation."""

import uuid

import pytest


@pytest.fixture(autouse=True)
def _fresh_redis_keys(settings):
    """The database is rolled back after every test, Redis is not: with REDIS_URL set (CI runs the
    suite against the machine's Redis) each test counts its throttles under its own key prefix."""
    settings.VERIFICATION_REDIS_PREFIX = f"cp-test-{uuid.uuid4().hex}:"
