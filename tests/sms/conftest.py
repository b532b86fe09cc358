from __future__ import annotations

import pytest

from campuspass.sms.backends import locmem


@pytest.fixture(autouse=True)
def sms_locmem(settings):
    """Every SMS test starts with the in-memory backend and an empty outbox."""
    settings.SMS_BACKEND = "locmem"
    settings.SMS_SIGN_NAME = "保卫处"
    locmem.outbox.clear()
    yield locmem.outbox
    locmem.outbox.clear()
