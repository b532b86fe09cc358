import datetime as dt
import json
from unittest import mock

import pytest
import time_machine
from django.utils import timezone

from campuspass.payments.crypto import aes_gcm_decrypt, aes_gcm_encrypt, generate_private_key
from campuspass.payments.models import ReceivedNotification, UsedNonce
from campuspass.payments.notifications import check_payment_resource, check_refund_resource, prune_used_nonces

from . import handlers
from .factories import headers_for, payment_body, payment_resource, refund_body

pytestmark = pytest.mark.django_db
PAY_URL = "/pay/notify/payment/"
REFUND_URL = "/pay/notify/refund/"


def post(client, body: str, headers: dict, url=PAY_URL):
    return client.post(url, data=body.encode(), content_type="application/json", headers=headers)


def assert_rejected_only_logged(response, status, reason):
    assert response.status_code == status
    assert response.json()["code"] == "FAIL"
    assert handlers.CALLS == []
    row = ReceivedNotification.objects.get()
    assert row.verified is False
    assert row.reject_reason == reason
    assert not row.applied_ok
    assert UsedNonce.objects.count() == 0


def test_valid_notification_calls_handler_once_and_is_logged(client):
    event_id, body = payment_body()
    response = post(client, body, headers_for(body))
    assert response.status_code == 200
    assert response.json() == {"code": "SUCCESS", "message": "成功"}
    assert len(handlers.CALLS) == 1
    notification = handlers.CALLS[0]
    assert notification.event_id == event_id
    assert notification.kind == "payment"
    assert notification.resource["amount"]["total"] == 15000
    row = ReceivedNotification.objects.get()
    assert row.verified and row.applied_ok and row.event_id == event_id
    assert row.applied_result == "applied TRANSACTION.SUCCESS"
    assert "wechatpay-serial" in row.headers


def test_duplicate_event_id_applied_once(client):
    _, body = payment_body()
    assert post(client, body, headers_for(body)).status_code == 200
    # WeChat re-sends the same event, freshly signed: answered SUCCESS, not applied again.
    second = post(client, body, headers_for(body))
    assert second.status_code == 200
    assert second.json()["code"] == "SUCCESS"
    assert len(handlers.CALLS) == 1
    row = ReceivedNotification.objects.get()
    assert row.deliveries == 2


def test_forged_signature_rejected(client):
    _, body = payment_body()
    forged = headers_for(body, private_key=generate_private_key())
    assert_rejected_only_logged(post(client, body, forged), 401, "bad_signature")


def test_tampered_body_rejected(client):
    _, body = payment_body()
    headers = headers_for(body)
    tampered = body.replace('"summary":"支付成功"', '"summary":"支付成功!"')
    assert tampered != body
    assert_rejected_only_logged(post(client, tampered, headers), 401, "bad_signature")


@pytest.mark.parametrize("offset", [301, -301])
def test_timestamp_outside_300_seconds_rejected(client, offset):
    _, body = payment_body()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        headers = headers_for(body)
    with time_machine.travel(start + dt.timedelta(seconds=offset), tick=False):
        response = post(client, body, headers)
    assert_rejected_only_logged(response, 401, "stale_timestamp")


def test_timestamp_at_300_seconds_accepted(client):
    _, body = payment_body()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        headers = headers_for(body)
    with time_machine.travel(start + dt.timedelta(seconds=300), tick=False):
        assert post(client, body, headers).status_code == 200
    assert len(handlers.CALLS) == 1


def test_replayed_nonce_rejected(client):
    _, body = payment_body()
    headers = headers_for(body)
    assert post(client, body, headers).status_code == 200
    replay = post(client, body, headers)
    assert replay.status_code == 401
    assert len(handlers.CALLS) == 1
    rejected = ReceivedNotification.objects.get(verified=False)
    assert rejected.reject_reason == "nonce_reused"
    assert UsedNonce.objects.count() == 1


def test_unknown_serial_rejected_before_any_crypto(client):
    _, body = payment_body()
    headers = headers_for(body, serial="PUB_KEY_ID_SOMEONE_ELSE")
    with mock.patch("campuspass.payments.notifications.verify_message") as verify:
        response = post(client, body, headers)
    verify.assert_not_called()
    assert_rejected_only_logged(response, 401, "unknown_serial")


def test_signtest_signature_rejected(client):
    _, body = payment_body()
    headers = headers_for(body, signature="WECHATPAY/SIGNTEST/" + "A" * 40)
    assert_rejected_only_logged(post(client, body, headers), 401, "signtest_signature")


def test_missing_headers_rejected(client):
    _, body = payment_body()
    headers = headers_for(body)
    del headers["Wechatpay-Nonce"]
    assert_rejected_only_logged(post(client, body, headers), 400, "missing_headers")


def test_undecryptable_resource_rejected_and_nonce_not_used_up(client):
    _, body = payment_body()
    envelope = json.loads(body)
    envelope["resource"]["associated_data"] = "refund"  # GCM tag no longer matches
    bad = json.dumps(envelope)
    headers = headers_for(bad)
    assert_rejected_only_logged(post(client, bad, headers), 400, "decrypt_failed")


def test_refund_event_on_payment_endpoint_rejected(client):
    _, body = refund_body()
    assert_rejected_only_logged(post(client, body, headers_for(body)), 400, "wrong_endpoint")


def test_refund_notification_reaches_handler(client):
    _, body = refund_body(status="ABNORMAL")
    response = post(client, body, headers_for(body), url=REFUND_URL)
    assert response.status_code == 200
    assert handlers.CALLS[0].event_type == "REFUND.ABNORMAL"
    assert handlers.CALLS[0].kind == "refund"


def test_get_not_allowed(client):
    assert client.get(PAY_URL).status_code == 405
    assert ReceivedNotification.objects.count() == 0


def test_handler_failure_answers_500_and_retry_applies(client):
    _, body = payment_body()
    handlers.FAIL_NEXT.append(True)
    first = post(client, body, headers_for(body))
    assert first.status_code == 500
    row = ReceivedNotification.objects.get()
    assert row.verified and not row.applied_ok
    assert "order service unavailable" in row.applied_result
    second = post(client, body, headers_for(body))
    assert second.status_code == 200
    assert len(handlers.CALLS) == 1
    row.refresh_from_db()
    assert row.applied_ok and row.deliveries == 2


def test_no_handler_configured_answers_500(client, settings):
    settings.PAYMENT_NOTIFICATION_HANDLER = None
    _, body = payment_body()
    assert post(client, body, headers_for(body)).status_code == 500


def test_decrypt_round_trip():
    key = b"0123456789abcdef0123456789abcdef"
    ciphertext = aes_gcm_encrypt(key, '{"a":"支付"}', nonce="abcdefghijkl", associated_data="transaction")
    assert (
        aes_gcm_decrypt(key, ciphertext, nonce="abcdefghijkl", associated_data="transaction")
        == '{"a":"支付"}'
    )
    assert aes_gcm_decrypt(key, ciphertext, nonce="abcdefghijkl", associated_data="refund") is None
    assert aes_gcm_decrypt(b"x" * 32, ciphertext, nonce="abcdefghijkl", associated_data="transaction") is None


def test_check_payment_resource():
    resource = payment_resource(out_trade_no="CP1", total=15000)
    assert (
        check_payment_resource(
            resource, appid=resource["appid"], mchid=resource["mchid"], out_trade_no="CP1", amount_fen=15000
        )
        == []
    )
    mismatches = check_payment_resource(
        payment_resource(out_trade_no="CP1", total=100, trade_state="NOTPAY", appid="wxother"),
        appid=resource["appid"],
        mchid=resource["mchid"],
        out_trade_no="CP1",
        amount_fen=15000,
    )
    assert {m.split(":")[0] for m in mismatches} == {"appid", "amount.total", "trade_state"}


def test_check_refund_resource():
    resource = json.loads(
        '{"mchid":"1","out_trade_no":"A","out_refund_no":"R","refund_status":"SUCCESS","amount":{"refund":5}}'
    )
    assert check_refund_resource(resource, mchid="1", out_trade_no="A", out_refund_no="R", amount_fen=5) == []
    assert check_refund_resource(resource, mchid="1", out_trade_no="A", out_refund_no="R", amount_fen=6)


def test_prune_used_nonces():
    old = UsedNonce.objects.create(nonce="old")
    UsedNonce.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=2))
    UsedNonce.objects.create(nonce="new")
    assert prune_used_nonces() == 1
    assert list(UsedNonce.objects.values_list("nonce", flat=True)) == ["new"]
