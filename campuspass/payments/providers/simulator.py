"""The `simulator` provider: our own WeChat Pay stand-in (see campuspass.payments.simulator)."""

import datetime as dt
import hashlib
import time
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from ..crypto import random_string, sign_message
from ..models import SimRefund, SimTransaction
from ..notifications import NotificationVerifier
from ..simulator import bank
from ..simulator.keys import get_keys
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

SIM_OAUTH_CODE = "SIMCODE-campuspass"


def _refund_state(refund: SimRefund) -> RefundState:
    return RefundState(
        out_refund_no=refund.out_refund_no,
        refund_id=refund.refund_id,
        status=refund.status,
        amount_fen=refund.amount_fen,
        total_fen=refund.total_fen,
        success_time=refund.success_time,
        out_trade_no=refund.out_trade_no,
    )


class SimulatorProvider(PaymentProvider):
    name = "simulator"

    @property
    def appid(self) -> str:  # type: ignore[override]
        return bank.sim_appid()

    @property
    def mchid(self) -> str:  # type: ignore[override]
        return bank.sim_mchid()

    def create_jsapi(
        self, *, out_trade_no, description, amount_fen, openid, notify_url, expire_at, return_url=None
    ):
        tx = bank.create_transaction(
            out_trade_no=out_trade_no,
            description=description,
            amount_fen=int(amount_fen),
            openid=openid,
            notify_url=notify_url,
            expire_at=expire_at,
            return_url=return_url,
        )
        # Signed like the real paySign (with the simulator's key); the page uses cashier_url instead.
        params = {
            "appId": tx.appid,
            "timeStamp": str(int(time.time())),
            "nonceStr": random_string(32),
            "package": f"prepay_id={tx.prepay_id}",
            "signType": "RSA",
        }
        params["paySign"] = sign_message(
            get_keys().private_key,
            params["appId"],
            params["timeStamp"],
            params["nonceStr"],
            params["package"],
        )
        cashier_url = reverse("payments:sim_cashier", args=[out_trade_no])
        return JsapiPayment(out_trade_no=out_trade_no, params=params, cashier_url=cashier_url)

    def query(self, out_trade_no):
        tx = bank.get_transaction(out_trade_no)
        return TradeState(
            out_trade_no=tx.out_trade_no,
            trade_state=tx.state,
            transaction_id=tx.transaction_id,
            amount_fen=tx.amount_fen,
            payer_openid=tx.openid if tx.state in {"SUCCESS", "REFUND"} else "",
            success_time=tx.success_time,
            appid=tx.appid,
            mchid=tx.mchid,
        )

    def close(self, out_trade_no):
        bank.close_transaction(out_trade_no)

    def refund(self, *, out_trade_no, out_refund_no, amount_fen, total_fen, reason, notify_url):
        refund = bank.request_refund(
            out_trade_no=out_trade_no,
            out_refund_no=out_refund_no,
            amount_fen=int(amount_fen),
            total_fen=int(total_fen),
            reason=reason or "",
            notify_url=notify_url,
        )
        return _refund_state(refund)

    def query_refund(self, out_refund_no):
        refund = SimRefund.objects.filter(out_refund_no=out_refund_no).first()
        if refund is None:
            raise PaymentProviderError("退款单不存在。", code="RESOURCE_NOT_EXISTS")
        return _refund_state(refund)

    def verifier(self) -> NotificationVerifier:
        """Verifies as the real provider does in WECHATPAY_SIGNATURE_MODE (public_key, certificate or
        both): a serial of the other mode is an unknown serial."""
        keys = get_keys()
        mode = getattr(settings, "WECHATPAY_SIGNATURE_MODE", "public_key")
        certificates = {keys.cert_serial: keys.public_key}
        return NotificationVerifier(
            {keys.serial: keys.public_key} if mode in {"public_key", "both"} else {},
            keys.apiv3_key,
            tolerance=getattr(settings, "WECHATPAY_NOTIFY_TOLERANCE_SECONDS", 300),
            certificate_key=certificates.get if mode in {"certificate", "both"} else None,
        )

    def verify_notification(self, headers, body: bytes) -> Notification:
        return self.verifier().verify(headers, body)

    def download_bill(self, date: dt.date):
        """WeChat's answers: PARAM_ERROR for a day outside the three months kept (or in the future),
        STATEMENT_CREATING until D+1 at WECHATPAY_BILL_READY_HOUR (Beijing), NO_STATEMENT_EXIST
        for a day without transactions, else the rows."""
        from ..bills import beijing_today, oldest_fetchable, ready_at

        if date >= beijing_today() + dt.timedelta(days=1) or date < oldest_fetchable():
            raise PaymentProviderError("账单日期超出可下载范围（仅保留三个月）。", code="PARAM_ERROR")
        if timezone.now() < ready_at(date):
            raise PaymentProviderError("账单生成中，请在次日上午 10 点后再下载。", code="STATEMENT_CREATING")
        rows = self._bill_rows(date)
        if not rows:
            raise PaymentProviderError("账单文件不存在（当日没有交易）。", code="NO_STATEMENT_EXIST")
        return rows

    def _bill_rows(self, date: dt.date) -> list[BillRow]:
        tz = timezone.get_default_timezone()
        start = dt.datetime.combine(date, dt.time.min, tzinfo=tz)
        end = start + dt.timedelta(days=1)
        rows = [
            BillRow(
                kind="payment",
                out_trade_no=tx.out_trade_no,
                out_refund_no="",
                transaction_id=tx.transaction_id,
                amount_fen=tx.amount_fen,
                state="SUCCESS",
                time=tx.success_time,
            )
            for tx in SimTransaction.objects.filter(success_time__gte=start, success_time__lt=end).order_by(
                "success_time"
            )
        ]
        rows += [
            BillRow(
                kind="refund",
                out_trade_no=r.out_trade_no,
                out_refund_no=r.out_refund_no,
                transaction_id=r.transaction_id,
                amount_fen=r.amount_fen,
                state=r.status,
                time=r.success_time,
            )
            for r in SimRefund.objects.filter(success_time__gte=start, success_time__lt=end).order_by(
                "success_time"
            )
        ]
        return rows

    def oauth_url(self, redirect_uri, state):
        check_oauth_state(state)
        # No WeChat to ask: straight back to the redirect URI with a fixed code, as snsapi_base would.
        parts = urlsplit(redirect_uri)
        query = "&".join(filter(None, [parts.query, urlencode({"code": SIM_OAUTH_CODE, "state": state})]))
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))

    def openid_from_code(self, code):
        if not code.startswith("SIMCODE-"):
            raise PaymentProviderError("微信授权失败：无效的授权码，请重新打开页面。", code="40029")
        return "o-sim-" + hashlib.sha256(code.encode()).hexdigest()[:22]
