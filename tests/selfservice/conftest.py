import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from campuspass.payments import providers
from campuspass.sms.backends import locmem
from tests.renewals.fakes import FakeProvider


@pytest.fixture
def fake_provider(monkeypatch):
    fake = FakeProvider()
    monkeypatch.setattr(providers, "_provider", fake)
    return fake


@pytest.fixture(autouse=True)
def sms_outbox(settings):
    settings.SMS_BACKEND = "locmem"
    locmem.outbox.clear()
    yield locmem.outbox
    locmem.outbox.clear()


def jpeg_upload(name="card.jpg", size=(640, 400), color=(30, 120, 200)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


def last_code(outbox) -> str:
    assert outbox, "no SMS was sent"
    return re.search(r"\b(\d{6})\b", outbox[-1].text).group(1)


def unlock(client, plate: str, outbox, purpose: str = "lookup"):
    """Walk 输入车牌号 → 确定 → 输入获取到的验证码 → 确定 for `plate`; returns the final response."""
    response = client.post("/m/lookup/", {"plate": plate, "for": purpose})
    assert response.status_code == 302
    return client.post("/m/verify/", {"code": last_code(outbox)})
