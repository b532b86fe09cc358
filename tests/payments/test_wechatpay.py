import datetime as dt
import gzip
import hashlib
import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from campuspass.payments.crypto import (
    aes_gcm_encrypt,
    generate_private_key,
    private_key_pem,
    public_key_pem,
    random_string,
    sign_message,
    verify_message,
)
from campuspass.payments.providers import NotificationRejected, PaymentProviderError, get_provider
from campuspass.payments.providers.wechatpay import WeChatPayProvider

API = "https://api.mch.weixin.qq.com"
PUB_ID = "PUB_KEY_ID_0112345678"
APIV3 = "0123456789abcdef0123456789ABCDEF"


@pytest.fixture(scope="module")
def keypairs():
    return {"merchant": generate_private_key(), "platform": generate_private_key()}


@pytest.fixture
def wx_settings(settings, keypairs, tmp_path):
    key_file = tmp_path / "apiclient_key.pem"
    key_file.write_text(private_key_pem(keypairs["merchant"]))
    settings.PAYMENT_PROVIDER = "wechatpay"
    settings.WECHATPAY_MCHID = "1900000109"
    settings.WECHATPAY_APPID = "wx1234567890abcdef"
    settings.WECHATPAY_APP_SECRET = "appsecret"
    settings.WECHATPAY_APIV3_KEY = APIV3
    settings.WECHATPAY_CERT_SERIAL_NO = "444F4864EA9B34415"
    settings.WECHATPAY_PRIVATE_KEY = str(key_file)  # a path
    settings.WECHATPAY_PUBLIC_KEY = public_key_pem(keypairs["platform"].public_key())  # PEM text
    settings.WECHATPAY_PUBLIC_KEY_ID = PUB_ID
    return settings


@pytest.fixture
def provider(wx_settings) -> WeChatPayProvider:
    provider = get_provider()
    assert isinstance(provider, WeChatPayProvider)
    return provider


def signed(keypairs, status=200, payload=None, *, key=None):
    """A response as WeChat Pay sends it: signed with the platform key."""
    body = json.dumps(payload) if payload is not None else ""
    ts, nonce = str(int(time.time())), random_string(32)
    headers = {
        "Wechatpay-Serial": PUB_ID,
        "Wechatpay-Timestamp": ts,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": sign_message(key or keypairs["platform"], ts, nonce, body),
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        "Content-Type": "application/json",
    }
    return status, headers, body


def test_missing_env_var_named(settings, wx_settings):
    settings.WECHATPAY_PUBLIC_KEY_ID = ""
    with pytest.raises(ImproperlyConfigured, match="WECHATPAY_PUBLIC_KEY_ID"):
        get_provider()


def test_unreadable_key_named(settings, wx_settings):
    settings.WECHATPAY_PRIVATE_KEY = "/nonexistent/key.pem"
    with pytest.raises(ImproperlyConfigured, match="WECHATPAY_PRIVATE_KEY"):
        get_provider()


@responses.activate
def test_create_jsapi_sends_fen_and_signs_paysign(provider, keypairs):
    responses.add_callback(
        responses.POST,
        f"{API}/v3/pay/transactions/jsapi",
        callback=lambda req: signed(keypairs, 200, {"prepay_id": "wx201410272009395522657a690389285100"}),
    )
    expire = timezone.now() + dt.timedelta(minutes=30)
    payment = provider.create_jsapi(
        out_trade_no="CP2025000001",
        description="2025年度校园车证续办",
        amount_fen=15000,
        openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        notify_url="https://campus.example/pay/notify/payment/",
        expire_at=expire,
    )
    sent = json.loads(responses.calls[0].request.body)
    assert sent["amount"] == {"total": 15000, "currency": "CNY"}
    assert sent["payer"] == {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}
    assert sent["appid"] == "wx1234567890abcdef" and sent["mchid"] == "1900000109"
    assert sent["notify_url"] == "https://campus.example/pay/notify/payment/"
    assert sent["time_expire"].endswith("+08:00")
    assert responses.calls[0].request.headers["Wechatpay-Serial"] == PUB_ID
    assert (
        responses.calls[0]
        .request.headers["Authorization"]
        .startswith('WECHATPAY2-SHA256-RSA2048 mchid="1900000109"')
    )
    p = payment.params
    assert p["package"] == "prepay_id=wx201410272009395522657a690389285100" and p["signType"] == "RSA"
    assert payment.cashier_url is None
    assert verify_message(
        keypairs["merchant"].public_key(),
        p["paySign"],
        p["appId"],
        p["timeStamp"],
        p["nonceStr"],
        p["package"],
    )


@responses.activate
def test_response_with_bad_signature_is_an_error(provider, keypairs):
    responses.add_callback(
        responses.POST,
        f"{API}/v3/pay/transactions/jsapi",
        callback=lambda req: signed(keypairs, 200, {"prepay_id": "x"}, key=generate_private_key()),
    )
    with pytest.raises(PaymentProviderError):
        provider.create_jsapi(
            out_trade_no="CP1",
            description="d",
            amount_fen=1,
            openid="o",
            notify_url="https://x/",
            expire_at=timezone.now(),
        )


@responses.activate
def test_query_and_errors(provider, keypairs):
    paid = {
        "appid": "wx1234567890abcdef",
        "mchid": "1900000109",
        "out_trade_no": "CP1",
        "transaction_id": "4200000001",
        "trade_state": "SUCCESS",
        "success_time": "2025-01-01T10:00:00+08:00",
        "payer": {"openid": "o1"},
        "amount": {"total": 15000, "payer_total": 15000, "currency": "CNY"},
    }
    responses.add_callback(
        responses.GET,
        f"{API}/v3/pay/transactions/out-trade-no/CP1?mchid=1900000109",
        callback=lambda req: signed(keypairs, 200, paid),
    )
    responses.add_callback(
        responses.GET,
        f"{API}/v3/pay/transactions/out-trade-no/CP2?mchid=1900000109",
        callback=lambda req: (
            404,
            {"Content-Type": "application/json"},
            json.dumps({"code": "ORDER_NOT_EXIST", "message": "订单不存在"}),
        ),
    )
    state = provider.query("CP1")
    assert state.trade_state == "SUCCESS" and state.amount_fen == 15000 and state.payer_openid == "o1"
    assert state.success_time == dt.datetime(2025, 1, 1, 2, 0, tzinfo=dt.UTC)
    with pytest.raises(PaymentProviderError) as exc:
        provider.query("CP2")
    assert exc.value.code == "ORDER_NOT_EXIST" and "订单不存在" in exc.value.message


@responses.activate
def test_close_and_refund(provider, keypairs):
    responses.add_callback(
        responses.POST,
        f"{API}/v3/pay/transactions/out-trade-no/CP1/close",
        callback=lambda req: signed(keypairs, 204),
    )
    provider.close("CP1")
    assert json.loads(responses.calls[0].request.body) == {"mchid": "1900000109"}
    refund = {
        "refund_id": "50000000382019052709732678859",
        "out_refund_no": "R1",
        "status": "PROCESSING",
        "amount": {"refund": 15000, "total": 15000},
    }
    responses.add_callback(
        responses.POST,
        f"{API}/v3/refund/domestic/refunds",
        callback=lambda req: signed(keypairs, 200, refund),
    )
    responses.add_callback(
        responses.GET,
        f"{API}/v3/refund/domestic/refunds/R1",
        callback=lambda req: signed(keypairs, 200, {**refund, "status": "SUCCESS"}),
    )
    state = provider.refund(
        out_trade_no="CP1",
        out_refund_no="R1",
        amount_fen=15000,
        total_fen=15000,
        reason="审核不通过",
        notify_url="https://x/pay/notify/refund/",
    )
    sent = json.loads(responses.calls[1].request.body)
    assert sent["amount"] == {"refund": 15000, "total": 15000, "currency": "CNY"}
    assert sent["out_trade_no"] == "CP1" and sent["notify_url"] == "https://x/pay/notify/refund/"
    assert state.status == "PROCESSING" and state.amount_fen == 15000
    assert provider.query_refund("R1").status == "SUCCESS"


@responses.activate
def test_download_bill(provider, keypairs):
    bill = (
        "\ufeff交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
        "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\n"
        "`2025-01-01 10:00:00,`wx1,`1900000109,`0,`,`4200001,`CP1,`o1,`JSAPI,`SUCCESS,`OTHERS,`CNY,`150.00,`0.00,`0,`0,`0.00,`0.00,`,`,`续办,`,`0.90000,`0.60%,`150.00,`0.00,`\n"
        "`2025-01-01 12:00:00,`wx1,`1900000109,`0,`,`4200001,`CP1,`o1,`JSAPI,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`5000001,`R1,`150.00,`0.00,`ORIGINAL,`SUCCESS,`续办,`,`-0.90000,`0.60%,`0.00,`150.00,`\n"
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\n"
        "`2,`150.00,`150.00,`0.00,`0.00000,`150.00,`150.00\n"
    ).encode()
    info = {
        "hash_type": "SHA1",
        "hash_value": hashlib.sha1(bill, usedforsecurity=False).hexdigest(),
        "download_url": f"{API}/v3/billdownload/file?token=abc",
    }
    responses.add_callback(
        responses.GET,
        f"{API}/v3/bill/tradebill?bill_date=2025-01-01&bill_type=ALL&tar_type=GZIP",
        callback=lambda req: signed(keypairs, 200, info),
    )
    responses.add(
        responses.GET,
        f"{API}/v3/billdownload/file?token=abc",
        body=gzip.compress(bill),
        content_type="application/octet-stream",
    )
    rows = provider.download_bill(dt.date(2025, 1, 1))
    assert [(r.kind, r.out_trade_no, r.out_refund_no, r.amount_fen, r.state) for r in rows] == [
        ("payment", "CP1", "", 15000, "SUCCESS"),
        ("refund", "CP1", "R1", 15000, "SUCCESS"),
    ]


@pytest.mark.django_db
def test_notification_verified_with_platform_public_key(provider, keypairs):
    resource = json.dumps({"out_trade_no": "CP1", "amount": {"total": 15000}})
    body = json.dumps(
        {
            "id": "EV-1",
            "create_time": "2025-01-01T10:00:00+08:00",
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": {
                "algorithm": "AEAD_AES_256_GCM",
                "original_type": "transaction",
                "associated_data": "transaction",
                "nonce": "abcdefghijkl",
                "ciphertext": aes_gcm_encrypt(
                    APIV3.encode(), resource, nonce="abcdefghijkl", associated_data="transaction"
                ),
            },
        }
    )
    _, headers, _ = signed(keypairs)  # signature over "" does not fit: re-sign over the body
    ts, nonce = headers["Wechatpay-Timestamp"], headers["Wechatpay-Nonce"]
    headers["Wechatpay-Signature"] = sign_message(keypairs["platform"], ts, nonce, body)
    notification = provider.verify_notification(headers, body.encode())
    assert notification.event_id == "EV-1" and notification.resource["amount"]["total"] == 15000
    with pytest.raises(NotificationRejected) as exc:
        provider.verify_notification({**headers, "Wechatpay-Serial": "PUB_KEY_ID_OTHER"}, body.encode())
    assert exc.value.reason_code == "unknown_serial"


def test_oauth_url(provider):
    url = provider.oauth_url("https://campus.example/renew/start/?a=1", "s1")
    parts = urlsplit(url)
    assert parts.netloc == "open.weixin.qq.com" and parts.fragment == "wechat_redirect"
    query = parse_qs(parts.query)
    assert query["scope"] == ["snsapi_base"] and query["appid"] == ["wx1234567890abcdef"]
    assert query["redirect_uri"] == ["https://campus.example/renew/start/?a=1"] and query["state"] == ["s1"]


@responses.activate
def test_openid_from_code(provider):
    responses.add(
        responses.GET,
        "https://api.weixin.qq.com/sns/oauth2/access_token",
        json={"access_token": "t", "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "scope": "snsapi_base"},
        match=[
            responses.matchers.query_param_matcher(
                {
                    "appid": "wx1234567890abcdef",
                    "secret": "appsecret",
                    "code": "C1",
                    "grant_type": "authorization_code",
                }
            )
        ],
    )
    assert provider.openid_from_code("C1") == "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
    responses.replace(
        responses.GET,
        "https://api.weixin.qq.com/sns/oauth2/access_token",
        json={"errcode": 40029, "errmsg": "invalid code"},
    )
    with pytest.raises(PaymentProviderError) as exc:
        provider.openid_from_code("bad")
    assert exc.value.code == "40029"
