"""Recorded WeChat Pay answers (success and every documented error code, per call) run through the
real WeChatPayProvider and the pinned wechatpayv3 SDK with mocked HTTP; each error code must have a
decided answer in campuspass.payments.errors. Also both signature modes and the changeover.

The HTTP statuses and codes are those of the API v3 error tables (JSAPI下单, 查询订单, 关闭订单,
申请退款, 查询单笔退款, 申请交易账单), as the SDKs' generated docs repeat them (wechatpay-go
services/refunddomestic/api_refunds.go, services/profitsharing/api_bill_shipment.go)."""

import datetime as dt
import json
import time

import pytest
import responses
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from campuspass.payments.crypto import aes_gcm_encrypt, generate_private_key, random_string, sign_message
from campuspass.payments.errors import COMMON, TABLE, Reaction, backoff_delay, decide
from campuspass.payments.providers import NotificationRejected, PaymentProviderError, get_provider
from campuspass.payments.providers.wechatpay import WeChatPayProvider, parse_trade_bill

from .test_wechatpay import API, APIV3, PUB_ID, keypairs, provider, signed, wx_settings  # noqa: F401

MCH = "1900000109"
URLS = {
    "jsapi": ("POST", f"{API}/v3/pay/transactions/jsapi"),
    "query": ("GET", f"{API}/v3/pay/transactions/out-trade-no/CP1?mchid={MCH}"),
    "close": ("POST", f"{API}/v3/pay/transactions/out-trade-no/CP1/close"),
    "refund": ("POST", f"{API}/v3/refund/domestic/refunds"),
    "query_refund": ("GET", f"{API}/v3/refund/domestic/refunds/R1"),
    "trade_bill": ("GET", f"{API}/v3/bill/tradebill?bill_date=2026-03-02&bill_type=ALL&tar_type=GZIP"),
}
# (HTTP status, code) per call, from the documents' error tables.
RECORDED = {
    "jsapi": [
        (400, "PARAM_ERROR"),
        (400, "INVALID_REQUEST"),
        (400, "APPID_MCHID_NOT_MATCH"),
        (400, "MCH_NOT_EXISTS"),
        (400, "ORDER_CLOSED"),
        (400, "OPENID_MISMATCH"),
        (401, "SIGN_ERROR"),
        (403, "NO_AUTH"),
        (403, "OUT_TRADE_NO_USED"),
        (403, "ORDERPAID"),
        (403, "RULE_LIMIT"),
        (403, "TRADE_ERROR"),
        (403, "ACCOUNT_ERROR"),
        (403, "NOT_ENOUGH"),
        (500, "INVALID_TRANSACTIONID"),
        (429, "FREQUENCY_LIMITED"),
        (500, "SYSTEM_ERROR"),
        (500, "BANKERROR"),
    ],
    "query": [
        (404, "ORDER_NOT_EXIST"),
        (400, "PARAM_ERROR"),
        (401, "SIGN_ERROR"),
        (429, "FREQUENCY_LIMITED"),
        (500, "SYSTEM_ERROR"),
    ],
    "close": [
        (400, "ORDER_CLOSED"),
        (400, "PARAM_ERROR"),
        (403, "ORDERPAID"),
        (404, "ORDER_NOT_EXIST"),
        (401, "SIGN_ERROR"),
        (429, "FREQUENCY_LIMITED"),
        (500, "SYSTEM_ERROR"),
    ],
    "refund": [
        (400, "PARAM_ERROR"),
        (400, "INVALID_REQUEST"),
        (400, "MCH_NOT_EXISTS"),
        (401, "SIGN_ERROR"),
        (403, "NOT_ENOUGH"),
        (403, "USER_ACCOUNT_ABNORMAL"),
        (403, "NO_AUTH"),
        (404, "RESOURCE_NOT_EXISTS"),
        (429, "FREQUENCY_LIMITED"),
        (500, "SYSTEM_ERROR"),
    ],
    "query_refund": [
        (400, "PARAM_ERROR"),
        (400, "MCH_NOT_EXISTS"),
        (401, "SIGN_ERROR"),
        (404, "RESOURCE_NOT_EXISTS"),
        (500, "SYSTEM_ERROR"),
    ],
    "trade_bill": [
        (400, "NO_STATEMENT_EXIST"),
        (400, "STATEMENT_CREATING"),
        (400, "PARAM_ERROR"),
        (400, "INVALID_REQUEST"),
        (401, "SIGN_ERROR"),
        (429, "FREQUENCY_LIMITED"),
        (429, "RATELIMIT_EXCEED"),
        (500, "SYSTEM_ERROR"),
    ],
}


def call(wechatpay, name):
    expire = timezone.now() + dt.timedelta(minutes=15)
    return {
        "jsapi": lambda: wechatpay.create_jsapi(
            out_trade_no="CP1",
            description="2026年医学部机动车通行证",
            amount_fen=15000,
            openid="o1",
            notify_url="https://pass.example/pay/notify/payment/",
            expire_at=expire,
        ),
        "query": lambda: wechatpay.query("CP1"),
        "close": lambda: wechatpay.close("CP1"),
        "refund": lambda: wechatpay.refund(
            out_trade_no="CP1",
            out_refund_no="R1",
            amount_fen=15000,
            total_fen=15000,
            reason="审核未通过",
            notify_url="https://pass.example/pay/notify/refund/",
        ),
        "query_refund": lambda: wechatpay.query_refund("R1"),
        "trade_bill": lambda: wechatpay.download_bill(dt.date(2026, 3, 2)),
    }[name]()


CASES = [(name, status, code) for name, answers in RECORDED.items() for status, code in answers]


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_each_recorded_error_reaches_the_table(provider, name):  # noqa: F811
    method, url = URLS[name]
    for status, code in RECORDED[name]:
        with responses.RequestsMock() as mock:
            mock.add(method, url, status=status, json={"code": code, "message": f"文档中的 {code}"})
            with pytest.raises(PaymentProviderError) as exc:
                call(provider, name)
        assert exc.value.code == code
        answer = decide(name, code)
        assert answer is TABLE.get((name, code)) or answer is COMMON[code], code  # decided, not the default


SUCCESS = {
    "jsapi": (200, {"prepay_id": "wx201410272009395522657a690389285100"}),
    "query": (200, {"out_trade_no": "CP1", "trade_state": "NOTPAY", "amount": {"total": 15000}}),
    "close": (204, None),
    "refund": (
        200,
        {"refund_id": "50000000382019052709732678859", "out_refund_no": "R1", "status": "PROCESSING"},
    ),
    "query_refund": (200, {"refund_id": "5000", "out_refund_no": "R1", "status": "ABNORMAL"}),
}


@responses.activate
@pytest.mark.parametrize("name", sorted(SUCCESS))
def test_each_recorded_success_is_read(provider, keypairs, name):  # noqa: F811
    method, url = URLS[name]
    status, payload = SUCCESS[name]
    responses.add_callback(method, url, callback=lambda req: signed(keypairs, status, payload))
    result = call(provider, name)
    if name == "query_refund":
        assert result.status == "ABNORMAL"  # a refund may end ABNORMAL (or CLOSED)
    if name == "query":
        assert result.trade_state == "NOTPAY" and not result.is_paid


def test_every_code_in_the_table_is_recorded():
    recorded = {(name, code) for name, status, code in CASES}
    assert {key for key in TABLE if key[0] != "download_bill"} <= recorded
    assert {code for code in COMMON if code.isupper()} <= {code for _, _, code in CASES}


def test_the_decided_answers():
    assert decide("close", "ORDER_CLOSED").reaction == Reaction.FINAL
    assert decide("refund", "RESOURCE_NOT_EXISTS").reaction == Reaction.FINAL
    assert decide("query_refund", "RESOURCE_NOT_EXISTS").reaction == Reaction.RETRY_LATER
    assert decide("trade_bill", "STATEMENT_CREATING").reaction == Reaction.RETRY_LATER
    assert decide("trade_bill", "NO_STATEMENT_EXIST").reaction == Reaction.FINAL
    assert decide("refund", "NOT_ENOUGH").reaction == Reaction.FINANCE
    assert decide("jsapi", "SYSTEM_ERROR").reaction == Reaction.BACKOFF
    assert decide("query", "SOMETHING_NEW").reaction == Reaction.FINANCE
    assert backoff_delay(1) < backoff_delay(3) < backoff_delay(99) == dt.timedelta(hours=6)
    with pytest.raises(ValueError):
        decide("pay_with_cash", "X")


def test_a_comma_in_the_product_name_does_not_shift_the_columns():
    header = "交易时间,微信订单号,商户订单号,交易状态,商品名称,订单金额"
    row = "`2026-03-02 10:00:00,`4200001,`CP1,`SUCCESS,`2026年医学部机动车通行证,含邮寄,`150.00"
    rows = parse_trade_bill("\n".join([header, row, "总交易单数", "`1"]))
    assert rows[0].amount_fen == 15000 and rows[0].state == "SUCCESS"


# --- signature modes ------------------------------------------------------------------------------


def make_certificate(key, serial: int):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )


@pytest.fixture(scope="module")
def platform_cert():
    key = generate_private_key()  # its own key: a certificate serial must not verify with the public key
    serial = 0x5157F09EFDC096DE15EBE81A47057A7232F1B8E1
    cert = make_certificate(key, serial)
    return {
        "key": key,
        "serial": f"{serial:X}",
        "pem": cert.public_bytes(serialization.Encoding.PEM).decode(),
    }


def certificates_answer(platform_cert):
    nonce = random_string(12)
    return {
        "data": [
            {
                "serial_no": platform_cert["serial"],
                "effective_time": "2026-01-01T00:00:00+08:00",
                "expire_time": "2031-01-01T00:00:00+08:00",
                "encrypt_certificate": {
                    "algorithm": "AEAD_AES_256_GCM",
                    "nonce": nonce,
                    "associated_data": "certificate",
                    "ciphertext": aes_gcm_encrypt(
                        APIV3.encode(), platform_cert["pem"], nonce=nonce, associated_data="certificate"
                    ),
                },
            }
        ]
    }


def notification(key, serial: str) -> tuple[dict, bytes]:
    resource = json.dumps({"out_trade_no": "CP1", "amount": {"total": 15000}})
    nonce = random_string(12)
    body = json.dumps(
        {
            "id": "EV-" + random_string(8),
            "create_time": "2026-03-02T10:00:00+08:00",
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": {
                "algorithm": "AEAD_AES_256_GCM",
                "original_type": "transaction",
                "associated_data": "transaction",
                "nonce": nonce,
                "ciphertext": aes_gcm_encrypt(
                    APIV3.encode(), resource, nonce=nonce, associated_data="transaction"
                ),
            },
        }
    )
    ts, header_nonce = str(int(time.time())), random_string(32)
    headers = {
        "Wechatpay-Serial": serial,
        "Wechatpay-Timestamp": ts,
        "Wechatpay-Nonce": header_nonce,
        "Wechatpay-Signature": sign_message(key, ts, header_nonce, body),
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }
    return headers, body.encode()


@pytest.mark.django_db
@responses.activate
def test_certificate_mode_downloads_the_certificates_and_verifies_with_them(
    wx_settings,  # noqa: F811
    keypairs,  # noqa: F811
    platform_cert,
    tmp_path,
):
    wx_settings.WECHATPAY_SIGNATURE_MODE = "certificate"
    wx_settings.WECHATPAY_PUBLIC_KEY = ""
    wx_settings.WECHATPAY_PUBLIC_KEY_ID = ""
    wx_settings.WECHATPAY_PLATFORM_CERT_DIR = str(tmp_path / "certs")
    responses.add(responses.GET, f"{API}/v3/certificates", json=certificates_answer(platform_cert))
    provider = get_provider()  # noqa: F811 - downloads the certificates, as the SDK does
    assert isinstance(provider, WeChatPayProvider) and provider.signature_mode == "certificate"
    assert (tmp_path / "certs" / f"{platform_cert['serial']}.pem").exists()
    headers, body = notification(platform_cert["key"], platform_cert["serial"])
    assert provider.verify_notification(headers, body).resource["amount"]["total"] == 15000
    # A notification signed in public-key mode is an unknown serial here.
    headers, body = notification(keypairs["platform"], PUB_ID)
    with pytest.raises(NotificationRejected) as exc:
        provider.verify_notification(headers, body)
    assert exc.value.reason_code == "unknown_serial"


@pytest.mark.django_db
@responses.activate
def test_public_key_mode_refuses_certificate_serials_without_downloading(wx_settings, platform_cert):  # noqa: F811
    """Today only the public key verifies: merchants still on certificates got 401 for a day."""
    provider = get_provider()  # noqa: F811
    headers, body = notification(platform_cert["key"], platform_cert["serial"])
    with pytest.raises(NotificationRejected) as exc:
        provider.verify_notification(headers, body)
    assert exc.value.reason_code == "unknown_serial"
    assert len(responses.calls) == 0


@pytest.mark.django_db
@responses.activate
def test_both_modes_during_the_changeover_and_unknown_serials_cost_no_crypto(
    wx_settings,  # noqa: F811
    keypairs,  # noqa: F811
    platform_cert,
    monkeypatch,
):
    wx_settings.WECHATPAY_SIGNATURE_MODE = "both"
    responses.add(responses.GET, f"{API}/v3/certificates", json=certificates_answer(platform_cert))
    provider = get_provider()  # noqa: F811 - public key mode: nothing downloaded yet
    assert len(responses.calls) == 0
    headers, body = notification(keypairs["platform"], PUB_ID)
    assert provider.verify_notification(headers, body).event_type == "TRANSACTION.SUCCESS"
    headers, body = notification(platform_cert["key"], platform_cert["serial"])
    assert provider.verify_notification(headers, body).event_type == "TRANSACTION.SUCCESS"
    assert len(responses.calls) == 1  # the certificates, downloaded on the first certificate serial

    from campuspass.payments import notifications

    def no_crypto(*args, **kwargs):
        raise AssertionError("an unknown serial reached the signature check")

    monkeypatch.setattr(notifications, "verify_message", no_crypto)
    for serial in ("ABCDEF0123456789ABCDEF0123456789ABCDEF01", "PUB_KEY_ID_FORGED", "not-a-serial"):
        headers, body = notification(keypairs["platform"], serial)
        with pytest.raises(NotificationRejected) as exc:
            provider.verify_notification(headers, body)
        assert exc.value.reason_code == "unknown_serial"
    assert len(responses.calls) == 1  # forged serials do not make us download again and again


def test_an_unknown_signature_mode_is_improperly_configured(wx_settings):  # noqa: F811
    wx_settings.WECHATPAY_SIGNATURE_MODE = "hmac"
    with pytest.raises(ImproperlyConfigured, match="WECHATPAY_SIGNATURE_MODE"):
        get_provider()


@responses.activate
def test_certificate_mode_without_certificates_is_improperly_configured(wx_settings):  # noqa: F811
    wx_settings.WECHATPAY_SIGNATURE_MODE = "certificate"
    responses.add(responses.GET, f"{API}/v3/certificates", status=401, json={"code": "SIGN_ERROR"})
    with pytest.raises(ImproperlyConfigured, match="平台证书"):
        get_provider()


@pytest.mark.django_db
@responses.activate
def test_a_rotated_certificate_is_downloaded_again_at_most_every_ten_minutes(
    wx_settings,  # noqa: F811
    keypairs,  # noqa: F811
    platform_cert,
):
    wx_settings.WECHATPAY_SIGNATURE_MODE = "certificate"
    responses.add(responses.GET, f"{API}/v3/certificates", json=certificates_answer(platform_cert))
    provider = get_provider()  # noqa: F811
    new_serial = 0x6157F09EFDC096DE15EBE81A47057A7232F1B8E2
    new_cert = {
        "key": keypairs["merchant"],
        "serial": f"{new_serial:X}",
        "pem": make_certificate(keypairs["merchant"], new_serial)
        .public_bytes(serialization.Encoding.PEM)
        .decode(),
    }
    both = certificates_answer(platform_cert)
    both["data"] += certificates_answer(new_cert)["data"]
    responses.replace(responses.GET, f"{API}/v3/certificates", json=both)
    headers, body = notification(new_cert["key"], new_cert["serial"])
    with pytest.raises(NotificationRejected):  # just downloaded at start: not again so soon
        provider.verify_notification(headers, body)
    assert len(responses.calls) == 1
    provider._last_cert_refresh -= 601  # ten minutes later
    headers, body = notification(new_cert["key"], new_cert["serial"])
    assert provider.verify_notification(headers, body).event_type == "TRANSACTION.SUCCESS"
    assert len(responses.calls) == 2
