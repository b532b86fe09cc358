"""An in-memory payment provider for service tests: answers as WeChat Pay would, and lets a test
decide what the platform says (paid or not, refund accepted, failed or refused)."""

from __future__ import annotations

import datetime as dt
import itertools
import threading

from django.utils import timezone

from campuspass.payments.providers import (
    JsapiPayment,
    Notification,
    PaymentProvider,
    PaymentProviderError,
    RefundState,
    TradeState,
)

APPID, MCHID = "wxTESTAPPID000001", "1900000001"
_ids = itertools.count(1)


class FakeProvider(PaymentProvider):
    name = "fake"
    appid = APPID
    mchid = MCHID

    def __init__(self):
        self.lock = threading.Lock()
        self.trades: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.calls: list[tuple] = []
        self.refund_answer = "PROCESSING"  # or SUCCESS / ABNORMAL / CLOSED, or an error code to raise
        self.unreachable = False

    # what the platform knows -------------------------------------------------------------
    def pay(self, out_trade_no: str, amount_fen: int) -> str:
        """The staff member pays on the platform (no notification is sent by this fake)."""
        transaction_id = f"42000{next(_ids):023d}"
        self.trades[out_trade_no] = {
            "state": "SUCCESS",
            "amount": amount_fen,
            "transaction_id": transaction_id,
            "time": timezone.now(),
        }
        return transaction_id

    def payment_notification(self, out_trade_no: str, **overrides) -> Notification:
        trade = self.trades[out_trade_no]
        resource = {
            "appid": APPID,
            "mchid": MCHID,
            "out_trade_no": out_trade_no,
            "transaction_id": trade["transaction_id"],
            "trade_type": "JSAPI",
            "trade_state": "SUCCESS",
            "success_time": trade["time"].isoformat(),
            "payer": {"openid": "oFAKEOPENID"},
            "amount": {"total": trade["amount"], "payer_total": trade["amount"], "currency": "CNY"},
        }
        resource.update(overrides)
        return Notification(
            event_id=f"EV-{trade['transaction_id']}",
            event_type="TRANSACTION.SUCCESS",
            resource=resource,
            received_at=timezone.now(),
            kind="payment",
        )

    def refund_notification(self, out_refund_no: str, status: str = "SUCCESS") -> Notification:
        refund = self.refunds[out_refund_no]
        refund["status"] = status
        return Notification(
            event_id=f"EV-{refund['refund_id']}-{status}",
            event_type=f"REFUND.{status}",
            resource={
                "mchid": MCHID,
                "out_trade_no": refund["out_trade_no"],
                "out_refund_no": out_refund_no,
                "refund_id": refund["refund_id"],
                "refund_status": status,
                "amount": {
                    "total": refund["total"],
                    "refund": refund["amount"],
                    "payer_refund": refund["amount"],
                },
            },
            received_at=timezone.now(),
            kind="refund",
        )

    # the interface ------------------------------------------------------------------------
    def create_jsapi(
        self, *, out_trade_no, description, amount_fen, openid, notify_url, expire_at, return_url=None
    ):
        self.calls.append(("create_jsapi", out_trade_no, amount_fen))
        self.trades.setdefault(out_trade_no, {"state": "NOTPAY", "amount": amount_fen})
        return JsapiPayment(out_trade_no, {"package": f"prepay_id=wx{out_trade_no}"}, None)

    def query(self, out_trade_no):
        self.calls.append(("query", out_trade_no))
        if self.unreachable:
            raise PaymentProviderError("网络错误", code="network")
        trade = self.trades.get(out_trade_no)
        if trade is None:
            raise PaymentProviderError("订单不存在", code="ORDER_NOT_EXIST")
        return TradeState(
            out_trade_no=out_trade_no,
            trade_state=trade["state"],
            transaction_id=trade.get("transaction_id", ""),
            amount_fen=trade["amount"],
            payer_openid="oFAKEOPENID" if trade["state"] == "SUCCESS" else "",
            success_time=trade.get("time"),
            appid=APPID,
            mchid=MCHID,
        )

    def close(self, out_trade_no):
        self.calls.append(("close", out_trade_no))
        trade = self.trades.get(out_trade_no)
        if trade and trade["state"] == "SUCCESS":
            raise PaymentProviderError("订单已支付", code="ORDERPAID")
        if trade:
            trade["state"] = "CLOSED"

    def refund(self, *, out_trade_no, out_refund_no, amount_fen, total_fen, reason, notify_url):
        with self.lock:
            self.calls.append(("refund", out_refund_no, amount_fen))
            if self.refund_answer not in {"PROCESSING", "SUCCESS", "ABNORMAL", "CLOSED"}:
                raise PaymentProviderError("退款被拒绝", code=self.refund_answer)
            if out_refund_no not in self.refunds:
                self.refunds[out_refund_no] = {
                    "out_trade_no": out_trade_no,
                    "refund_id": f"50000{next(_ids):024d}",
                    "amount": amount_fen,
                    "total": total_fen,
                    "status": self.refund_answer,
                }
            refund = self.refunds[out_refund_no]
        return RefundState(
            out_refund_no, refund["refund_id"], refund["status"], refund["amount"], refund["total"]
        )

    def query_refund(self, out_refund_no):
        refund = self.refunds.get(out_refund_no)
        if refund is None:
            raise PaymentProviderError("退款单不存在", code="RESOURCE_NOT_EXISTS")
        return RefundState(
            out_refund_no, refund["refund_id"], refund["status"], refund["amount"], refund["total"]
        )

    def verify_notification(self, headers, body):  # pragma: no cover - not used by service tests
        raise NotImplementedError

    def download_bill(self, date: dt.date):
        from campuspass.payments.providers import BillRow

        rows = [
            BillRow("payment", no, "", t["transaction_id"], t["amount"], "SUCCESS", t["time"])
            for no, t in self.trades.items()
            if t["state"] == "SUCCESS"
        ]
        rows += [
            BillRow("refund", r["out_trade_no"], no, r["refund_id"], r["amount"], "SUCCESS", None)
            for no, r in self.refunds.items()
            if r["status"] == "SUCCESS"
        ]
        return rows

    def oauth_url(self, redirect_uri, state):  # pragma: no cover
        return redirect_uri

    def openid_from_code(self, code):  # pragma: no cover
        return "oFAKEOPENID"
