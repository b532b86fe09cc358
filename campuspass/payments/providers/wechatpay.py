"""WeChat Pay API v3 (direct merchant, JSAPI) through the wechatpayv3 SDK.

The SDK signs requests and verifies responses; notifications go through our own verifier, which adds
the checks the SDK lacks (serial before crypto, timestamp window, nonce reuse, SIGNTEST probes).

Signature modes (WECHATPAY_SIGNATURE_MODE, decision 0013): "public_key" (微信支付公钥, the mode of
new merchants), "certificate" (平台证书: the SDK downloads them from /v3/certificates at start, caches
them in WECHATPAY_PLATFORM_CERT_DIR and downloads again when a response names a serial it does not
know, which is how it follows a rotation), and "both" for the changeover from certificates to the
public key, when WeChat signs with either.
"""

import datetime as dt
import gzip
import hashlib
import json
import logging
import time
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ..crypto import load_private_key, load_public_key, pem_text, random_string
from ..notifications import NotificationVerifier, parse_time
from .base import (
    BillRow,
    JsapiPayment,
    Notification,
    PaymentProvider,
    PaymentProviderError,
    RefundState,
    TradeState,
    check_oauth_state,
)

logger = logging.getLogger(__name__)
SHANGHAI = ZoneInfo("Asia/Shanghai")
OAUTH_AUTHORIZE_URL = "https://open.weixin.qq.com/connect/oauth2/authorize"
OAUTH_TOKEN_URL = "https://api.weixin.qq.com/sns/oauth2/access_token"  # noqa: S105 - a URL
TIMEOUT = (5, 10)

REQUIRED_SETTINGS = (
    "WECHATPAY_MCHID",
    "WECHATPAY_APPID",
    "WECHATPAY_APIV3_KEY",
    "WECHATPAY_CERT_SERIAL_NO",
    "WECHATPAY_PRIVATE_KEY",
)
PUBLIC_KEY_SETTINGS = ("WECHATPAY_PUBLIC_KEY", "WECHATPAY_PUBLIC_KEY_ID")
SIGNATURE_MODES = ("public_key", "certificate", "both")
# A notification naming an unknown certificate serial triggers at most one certificate download in
# this many seconds: forged serials cannot make us hammer WeChat Pay.
CERT_REFRESH_SECONDS = 600
# Our words for each call -> the call's name in the error table (payments.errors.CALLS).
CALL_OF = {
    "下单": "jsapi",
    "查询订单": "query",
    "关闭订单": "close",
    "申请退款": "refund",
    "查询退款": "query_refund",
    "申请交易账单": "trade_bill",
    "下载账单": "download_bill",
}


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(SHANGHAI).isoformat(timespec="seconds")


def yuan_to_fen(text: str) -> int:
    try:
        return int((Decimal(text.strip().lstrip("`") or "0") * 100).to_integral_value())
    except InvalidOperation:
        return 0


class WeChatPayProvider(PaymentProvider):
    name = "wechatpay"

    def __init__(
        self,
        *,
        mchid: str,
        appid: str,
        app_secret: str,
        apiv3_key: str,
        cert_serial_no: str,
        private_key: str,
        public_key: str = "",
        public_key_id: str = "",
        tolerance: int = 300,
        signature_mode: str = "public_key",
        cert_dir: str | None = None,
    ):
        from wechatpayv3 import WeChatPay, WeChatPayType

        if signature_mode not in SIGNATURE_MODES:
            raise ImproperlyConfigured(f"WECHATPAY_SIGNATURE_MODE 应为 {' / '.join(SIGNATURE_MODES)}")
        uses_public_key = signature_mode in {"public_key", "both"}
        uses_certificates = signature_mode in {"certificate", "both"}
        self.mchid = mchid
        self.appid = appid
        self.app_secret = app_secret
        self.signature_mode = signature_mode
        self._private_key = load_private_key(private_key)
        self._public_key_id = public_key_id
        self._last_cert_refresh = time.monotonic() if signature_mode == "certificate" else None
        # Certificate mode: the SDK downloads the platform certificates here (and raises without).
        self._client = WeChatPay(
            wechatpay_type=WeChatPayType.JSAPI,
            mchid=mchid,
            private_key=pem_text(private_key),
            cert_serial_no=cert_serial_no,
            appid=appid,
            apiv3_key=apiv3_key,
            public_key=pem_text(public_key) if uses_public_key else None,
            public_key_id=public_key_id if uses_public_key else None,
            cert_dir=cert_dir,
            timeout=TIMEOUT,
            logger=logger,
        )
        self.verifier = NotificationVerifier(
            {public_key_id: load_public_key(public_key)} if uses_public_key else {},
            apiv3_key.encode(),
            tolerance=tolerance,
            certificate_key=self._certificate_key if uses_certificates else None,
        )

    def _known_certificate(self, serial: str):
        number = int(serial, 16)
        now = dt.datetime.now(dt.UTC)
        for cert in list(self._client._core._certificates):  # the SDK core's downloaded certificates
            if cert.serial_number == number and cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
                return cert.public_key()
        return None

    def _certificate_key(self, serial: str):
        """The public key of the platform certificate `serial`; downloads the certificates again (as
        the SDK does for responses) at most once every CERT_REFRESH_SECONDS."""
        key = self._known_certificate(serial)
        if key is not None:
            return key
        now = time.monotonic()
        if self._last_cert_refresh is not None and now - self._last_cert_refresh < CERT_REFRESH_SECONDS:
            return None
        self._last_cert_refresh = now
        try:
            self._client._core._update_certificates()
        except requests.RequestException as exc:
            logger.warning("wechatpay: platform certificate download failed: %s", type(exc).__name__)
            return None
        return self._known_certificate(serial)

    @classmethod
    def from_settings(cls) -> "WeChatPayProvider":
        mode = getattr(settings, "WECHATPAY_SIGNATURE_MODE", "public_key") or "public_key"
        if mode not in SIGNATURE_MODES:
            raise ImproperlyConfigured(
                f"环境变量 WECHATPAY_SIGNATURE_MODE 应为 {' / '.join(SIGNATURE_MODES)}，而不是 {mode!r}"
            )
        required = REQUIRED_SETTINGS + (PUBLIC_KEY_SETTINGS if mode != "certificate" else ())
        for name in required:
            if not getattr(settings, name, ""):
                raise ImproperlyConfigured(f"PAYMENT_PROVIDER=wechatpay 需要环境变量 {name}")
        if len(settings.WECHATPAY_APIV3_KEY.encode()) != 32:
            raise ImproperlyConfigured("环境变量 WECHATPAY_APIV3_KEY 应为 32 个字符")
        keys = [("WECHATPAY_PRIVATE_KEY", load_private_key)]
        if mode != "certificate":
            keys.append(("WECHATPAY_PUBLIC_KEY", load_public_key))
        for name, loader in keys:
            try:
                loader(getattr(settings, name))
            except (ValueError, TypeError) as exc:
                raise ImproperlyConfigured(f"环境变量 {name} 不是可用的 PEM 密钥或密钥文件：{exc}") from exc
        cert_dir = getattr(settings, "WECHATPAY_PLATFORM_CERT_DIR", "") or None
        try:
            return cls(
                mchid=settings.WECHATPAY_MCHID,
                appid=settings.WECHATPAY_APPID,
                app_secret=getattr(settings, "WECHATPAY_APP_SECRET", ""),
                apiv3_key=settings.WECHATPAY_APIV3_KEY,
                cert_serial_no=settings.WECHATPAY_CERT_SERIAL_NO,
                private_key=settings.WECHATPAY_PRIVATE_KEY,
                public_key=getattr(settings, "WECHATPAY_PUBLIC_KEY", "") if mode != "certificate" else "",
                public_key_id=getattr(settings, "WECHATPAY_PUBLIC_KEY_ID", "")
                if mode != "certificate"
                else "",
                tolerance=getattr(settings, "WECHATPAY_NOTIFY_TOLERANCE_SECONDS", 300),
                signature_mode=mode,
                cert_dir=str(cert_dir) if cert_dir else None,
            )
        except ImproperlyConfigured:
            raise
        except Exception as exc:  # the SDK raises bare Exception when no certificate could be downloaded
            raise ImproperlyConfigured(
                f"无法下载微信支付平台证书（WECHATPAY_SIGNATURE_MODE={mode}）：{exc}。"
                "请检查商户号、API 证书序列号、私钥和 APIv3 密钥，或改用微信支付公钥模式。"
            ) from exc

    # --- calling the SDK ----------------------------------------------------------------------

    def _call(self, what: str, func, *args, **kwargs) -> tuple[int, object]:
        try:
            code, message = func(*args, **kwargs)
        except requests.RequestException as exc:
            logger.warning("wechatpay %s: network error %s", what, type(exc).__name__)
            raise PaymentProviderError(
                f"暂时无法连接微信支付（{what}），请稍后重试。", code="network", call=CALL_OF.get(what, "")
            ) from exc
        except Exception as exc:  # the SDK raises bare Exception, e.g. for a bad response signature
            logger.warning("wechatpay %s: %s", what, exc)
            raise PaymentProviderError(
                f"微信支付{what}失败：应答无法验证。", code="sdk_error", call=CALL_OF.get(what, "")
            ) from exc
        if 200 <= code < 300:
            return code, message
        err_code, err_message = "provider_error", ""
        try:
            data = json.loads(message)
            err_code, err_message = data.get("code", err_code), data.get("message", "")
        except (TypeError, ValueError):
            pass
        logger.warning("wechatpay %s: HTTP %s %s", what, code, err_code)
        raise PaymentProviderError(
            f"微信支付{what}失败：{err_message or err_code}（{err_code}）",
            code=err_code,
            call=CALL_OF.get(what, ""),
        )

    def _json(self, what: str, func, *args, **kwargs) -> dict:
        _, message = self._call(what, func, *args, **kwargs)
        try:
            return json.loads(message)
        except (TypeError, ValueError) as exc:
            raise PaymentProviderError(f"微信支付{what}应答格式错误。", call=CALL_OF.get(what, "")) from exc

    def jsapi_params(self, prepay_id: str) -> dict[str, str]:
        params = {
            "appId": self.appid,
            "timeStamp": str(int(time.time())),
            "nonceStr": random_string(32),
            "package": f"prepay_id={prepay_id}",
            "signType": "RSA",
        }
        params["paySign"] = self._client.sign(
            [params["appId"], params["timeStamp"], params["nonceStr"], params["package"]]
        )
        return params

    # --- the interface ------------------------------------------------------------------------

    def create_jsapi(
        self, *, out_trade_no, description, amount_fen, openid, notify_url, expire_at, return_url=None
    ):
        data = self._json(
            "下单",
            self._client.pay,
            description=description,
            out_trade_no=out_trade_no,
            amount={"total": int(amount_fen), "currency": "CNY"},
            payer={"openid": openid},
            time_expire=rfc3339(expire_at),
            notify_url=notify_url,
        )
        prepay_id = data.get("prepay_id")
        if not prepay_id:
            raise PaymentProviderError("微信支付下单失败：应答中没有 prepay_id。")
        return JsapiPayment(out_trade_no=out_trade_no, params=self.jsapi_params(prepay_id), cashier_url=None)

    def query(self, out_trade_no):
        data = self._json("查询订单", self._client.query, out_trade_no=out_trade_no)
        return trade_state_from(data)

    def close(self, out_trade_no):
        self._call("关闭订单", self._client.close, out_trade_no=out_trade_no)

    def refund(self, *, out_trade_no, out_refund_no, amount_fen, total_fen, reason, notify_url):
        data = self._json(
            "申请退款",
            self._client.refund,
            out_refund_no=out_refund_no,
            amount={"refund": int(amount_fen), "total": int(total_fen), "currency": "CNY"},
            out_trade_no=out_trade_no,
            reason=reason or None,
            notify_url=notify_url,
        )
        return refund_state_from(data)

    def query_refund(self, out_refund_no):
        return refund_state_from(
            self._json("查询退款", self._client.query_refund, out_refund_no=out_refund_no)
        )

    def verify_notification(self, headers, body: bytes) -> Notification:
        return self.verifier.verify(headers, body)

    def download_bill(self, date):
        info = self._json(
            "申请交易账单", self._client.trade_bill, bill_date=date.isoformat(), bill_type="ALL"
        )
        url = info.get("download_url")
        if not url:
            raise PaymentProviderError("微信支付交易账单应答中没有下载地址。")
        _, content = self._call("下载账单", self._client.download_bill, url)
        raw = content.encode() if isinstance(content, str) else content
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        expected = (info.get("hash_value") or "").lower()
        sha1_expected = (info.get("hash_type") or "SHA1").upper() == "SHA1" and expected
        if sha1_expected and hashlib.sha1(raw, usedforsecurity=False).hexdigest() != expected:
            raise PaymentProviderError(
                "微信支付账单校验失败（SHA1 不符）。", code="bill_hash", call="download_bill"
            )
        return parse_trade_bill(raw.decode("utf-8-sig"))

    def oauth_url(self, redirect_uri, state):
        check_oauth_state(state)
        query = urlencode(
            {
                "appid": self.appid,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": "snsapi_base",
                "state": state,
            }
        )
        return f"{OAUTH_AUTHORIZE_URL}?{query}#wechat_redirect"

    def openid_from_code(self, code):
        if not self.app_secret:
            raise ImproperlyConfigured("微信网页授权需要环境变量 WECHATPAY_APP_SECRET")
        params = {
            "appid": self.appid,
            "secret": self.app_secret,
            "code": code,
            "grant_type": "authorization_code",
        }
        try:
            response = requests.get(OAUTH_TOKEN_URL, params=params, timeout=TIMEOUT)
            data = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise PaymentProviderError("暂时无法连接微信，请稍后重试。", code="network") from exc
        if data.get("errcode") or not data.get("openid"):
            logger.warning("wechat oauth: errcode %s", data.get("errcode"))
            raise PaymentProviderError(
                f"微信授权失败：{data.get('errmsg', '未返回 openid')}（{data.get('errcode', '')}），请重新打开页面。",
                code=str(data.get("errcode", "oauth_error")),
            )
        return data["openid"]


def trade_state_from(data: dict) -> TradeState:
    amount = data.get("amount") or {}
    return TradeState(
        out_trade_no=data.get("out_trade_no", ""),
        trade_state=data.get("trade_state", ""),
        transaction_id=data.get("transaction_id", ""),
        amount_fen=amount.get("total"),
        payer_openid=(data.get("payer") or {}).get("openid", ""),
        success_time=parse_time(data.get("success_time")),
        appid=data.get("appid", ""),
        mchid=data.get("mchid", ""),
    )


def refund_state_from(data: dict) -> RefundState:
    amount = data.get("amount") or {}
    return RefundState(
        out_refund_no=data.get("out_refund_no", ""),
        refund_id=data.get("refund_id", ""),
        status=data.get("status", data.get("refund_status", "")),
        amount_fen=int(amount.get("refund", 0)),
        total_fen=int(amount.get("total", 0)),
        success_time=parse_time(data.get("success_time")),
        out_trade_no=data.get("out_trade_no", ""),
    )


def parse_trade_bill(text: str) -> list[BillRow]:
    """Rows of a v3 trade bill (type ALL): a header line, "`"-prefixed values, then a summary part."""
    lines = text.splitlines()
    if not lines:
        return []
    header = [name.strip() for name in lines[0].split(",")]
    rows: list[BillRow] = []
    for line in lines[1:]:
        if not line.startswith("`"):
            break  # the summary ("总交易单数,…") starts here
        # Every value starts with "`" and is not quoted: a comma inside a value (e.g. in the product
        # name) must not shift the columns, so split on ",`" rather than on ",".
        record = line[1:].split(",`")
        row = dict(zip(header, (value.strip() for value in record), strict=False))
        try:
            moment = dt.datetime.strptime(row.get("交易时间", ""), "%Y-%m-%d %H:%M:%S").replace(
                tzinfo=SHANGHAI
            )
        except ValueError:
            moment = None
        state = row.get("交易状态", "")
        if state == "REFUND":
            rows.append(
                BillRow(
                    kind="refund",
                    out_trade_no=row.get("商户订单号", ""),
                    out_refund_no=row.get("商户退款单号", ""),
                    transaction_id=row.get("微信订单号", ""),
                    amount_fen=yuan_to_fen(row.get("申请退款金额") or row.get("退款金额", "0")),
                    state=row.get("退款状态", ""),
                    time=moment,
                )
            )
        else:
            rows.append(
                BillRow(
                    kind="payment",
                    out_trade_no=row.get("商户订单号", ""),
                    out_refund_no="",
                    transaction_id=row.get("微信订单号", ""),
                    amount_fen=yuan_to_fen(row.get("订单金额") or row.get("应结订单金额", "0")),
                    state=state,
                    time=moment,
                )
            )
    return rows
