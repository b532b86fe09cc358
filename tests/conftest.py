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


# --- every audit data key any emitter writes has a Chinese label (decision 0036) -------------------
# Checked after every test that used the database: each entry the code under test wrote with a
# catalogued action code must have a label for every key of its data (core.audit.unlabelled_keys).
# Entries of codes outside the catalogue (tests' own "test.*" entries, legacy codes) are not emitters'.
_DB_FIXTURES = {
    "db",
    "transactional_db",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
    "live_server",
}


def _unlabelled_audit_keys(item) -> dict[str, set[str]]:
    if not (item.get_closest_marker("django_db") or _DB_FIXTURES & set(item.fixturenames)):
        return {}
    from django.db import DatabaseError

    from campuspass.core.audit import unlabelled_keys
    from campuspass.core.audit_catalogue import BY_CODE
    from campuspass.core.models import LogEntry

    missing: dict[str, set[str]] = {}
    try:
        for entry in LogEntry.objects.filter(action__in=list(BY_CODE)).exclude(data={}).iterator():
            if keys := unlabelled_keys(entry):
                missing.setdefault(entry.action, set()).update(keys)
    except (DatabaseError, RuntimeError):  # a broken transaction, or a test skipped before its db
        return {}
    return missing


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    missing = _unlabelled_audit_keys(item)
    result = yield
    if missing:
        pytest.fail(
            "audit data keys without a Chinese label (add them to DATA_KEYS or the action's keys in "
            f"campuspass/core/audit_catalogue.py): {dict(sorted(missing.items()))}",
            pytrace=False,
        )
    return result
