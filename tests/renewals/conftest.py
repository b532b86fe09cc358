import pytest

from campuspass.payments import providers
from campuspass.sms.backends import locmem

from .fakes import FakeProvider


@pytest.fixture
def fake_provider(monkeypatch):
    """The payment platform, as the services see it, is this fake for the test."""
    fake = FakeProvider()
    monkeypatch.setattr(providers, "_provider", fake)
    return fake


@pytest.fixture
def sms_outbox():
    locmem.outbox.clear()
    yield locmem.outbox
    locmem.outbox.clear()
