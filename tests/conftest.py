"""Suite-wide isolation."""

import uuid

import pytest


@pytest.fixture(autouse=True)
def _fresh_redis_keys(settings):
    """The database is rolled back after every test, Redis is not: with REDIS_URL set (CI runs the
    suite against the machine's Redis) each test counts its throttles under its own key prefix."""
    settings.VERIFICATION_REDIS_PREFIX = f"cp-test-{uuid.uuid4().hex}:"


def pass_second_factor(client, user):
    """For tests that sign in with force_login: the TOTP step done, as the perimeter requires of
    管理员 and 财务 (tests/backoffice/test_perimeter.py walks the real step)."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name="test", confirmed=True
    )
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device


@pytest.fixture
def admin_client(client, admin_user):
    """pytest-django's admin_client, past the perimeter's second-factor step."""
    client.force_login(admin_user)
    pass_second_factor(client, admin_user)
    return client
