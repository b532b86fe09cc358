"""Refused notifications keep bounded diagnostics, a flood from one address is answered cheaply,
old refused rows are purged; the simulator signs in certificate mode as merchants on certificates see."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from campuspass.payments.models import ReceivedNotification
from campuspass.payments.notifications import HEADER_VALUE_MAX, purge_refused_notifications
from campuspass.payments.simulator.keys import get_keys

from . import handlers
from .factories import headers_for, payment_body

pytestmark = pytest.mark.django_db
PAY_URL = "/pay/notify/payment/"


def post(client, body, headers, **extra):
    return client.post(PAY_URL, data=body.encode(), content_type="application/json", headers=headers, **extra)


def test_refused_rows_keep_bounded_headers(client):
    """Today every header value is stored at full length (6.6 MB for 200 requests)."""
    _, body = payment_body()
    headers = {**headers_for(body, signature="x" * 5000), "User-Agent": "A" * 20000}
    headers["Wechatpay-Serial"] = "S" * 5000
    response = post(client, body, headers)
    assert response.status_code == 401
    row = ReceivedNotification.objects.get()
    assert all(len(value) <= HEADER_VALUE_MAX + 1 for value in row.headers.values())
    assert len(str(row.headers)) < 1200 and len(row.reject_message) <= 255


def test_a_flood_from_one_address_is_answered_429_without_rows(client, settings):
    settings.PAYMENT_NOTIFY_REFUSED_LIMIT = 5
    _, body = payment_body()
    for _ in range(5):
        assert post(client, body, headers_for(body, serial="PUB_KEY_ID_FORGED")).status_code == 401
    for _ in range(20):
        assert post(client, body, headers_for(body, serial="PUB_KEY_ID_FORGED")).status_code == 429
    assert ReceivedNotification.objects.count() == 5
    # Another address is not affected, and a good notification from it is applied.
    response = post(client, body, headers_for(body), REMOTE_ADDR="10.0.0.8")
    assert response.status_code == 200 and len(handlers.CALLS) == 1


def test_a_declared_oversized_body_is_refused_before_it_is_read(client):
    _, body = payment_body()
    response = post(client, body, headers_for(body), CONTENT_LENGTH=str(10 * 1024 * 1024))
    assert response.status_code == 400
    assert ReceivedNotification.objects.get().reject_reason == "body_too_large"


def test_old_refused_rows_are_purged_on_schedule(client, settings):
    settings.PAYMENT_REFUSED_NOTIFICATION_DAYS = 30
    _, body = payment_body()
    with time_machine.travel(timezone.now() - dt.timedelta(days=31)):
        post(client, body, headers_for(body, serial="PUB_KEY_ID_FORGED"))
    post(client, body, headers_for(body, serial="PUB_KEY_ID_FORGED"))
    with time_machine.travel(timezone.now() - dt.timedelta(days=40)):
        ReceivedNotification.objects.create(kind="payment", event_id="E1", verified=True, body_sha256="x")
    assert purge_refused_notifications() == 1
    assert ReceivedNotification.objects.filter(verified=False).count() == 1
    assert ReceivedNotification.objects.filter(verified=True).count() == 1  # verified rows are kept
    assert any(name.endswith("purge_refused_notifications_task") for name, _ in settings.PERIODIC_TASKS)


@pytest.mark.parametrize(("our_mode", "status"), [("public_key", 401), ("certificate", 200), ("both", 200)])
def test_simulator_signing_with_a_certificate_serial(client, settings, our_mode, status):
    settings.PAYMENT_SIMULATOR_SIGNATURE_MODE = "certificate"
    settings.WECHATPAY_SIGNATURE_MODE = our_mode
    _, body = payment_body()
    from campuspass.payments.simulator.bank import signed_headers

    headers = signed_headers(body)
    assert headers["Wechatpay-Serial"] == get_keys().cert_serial and len(get_keys().cert_serial) == 40
    assert post(client, body, headers).status_code == status


def test_public_key_signing_still_verifies_in_both_mode(client, settings):
    settings.WECHATPAY_SIGNATURE_MODE = "both"
    _, body = payment_body()
    assert post(client, body, headers_for(body)).status_code == 200
