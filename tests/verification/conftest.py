import datetime as dt
import sys
import types

import pytest
import time_machine

START = dt.datetime(2019, 6, 12, 1, 0, tzinfo=dt.UTC)  # 09:00 Asia/Shanghai, the window's first day


class FakeSms:
    """Stands in for campuspass.sms.services (being written elsewhere): records every enqueue."""

    def __init__(self):
        self.calls = []

    def sms_enqueue(self, *, phone, template, params, related=None):
        self.calls.append({"phone": phone, "template": template, "params": dict(params), "related": related})

    @property
    def last_code(self):
        return self.calls[-1]["params"]["code"]


@pytest.fixture
def sms(monkeypatch):
    fake = FakeSms()
    module = types.ModuleType("campuspass.sms.services")
    module.sms_enqueue = fake.sms_enqueue
    monkeypatch.setitem(sys.modules, "campuspass.sms.services", module)
    return fake


@pytest.fixture
def clock():
    """Frozen time; ``clock.shift(seconds)`` moves it."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def _no_redis(settings):
    # The database path is the default; the Redis tests switch it on explicitly.
    settings.REDIS_URL = ""
