"""Helpers that build notifications the way the platform (here: the simulator's keys) would."""

import datetime as dt
import time

from django.utils import timezone

from campuspass.payments.crypto import random_string, sign_message
from campuspass.payments.providers import get_provider
from campuspass.payments.simulator import bank
from campuspass.payments.simulator.keys import get_keys

APPID = bank.SIM_APPID
MCHID = bank.SIM_MCHID


def payment_resource(out_trade_no="CP2025000001", total=15000, **overrides):
    resource = {
        "appid": APPID,
        "mchid": MCHID,
        "out_trade_no": out_trade_no,
        "transaction_id": "4200000000202501011234567890",
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "success_time": "2025-01-01T10:00:00+08:00",
        "payer": {"openid": "o-test"},
        "amount": {"total": total, "payer_total": total, "currency": "CNY"},
    }
    resource.update(overrides)
    return resource


def payment_body(**kwargs) -> tuple[str, str]:
    return bank.build_body(
        event_type="TRANSACTION.SUCCESS",
        summary="支付成功",
        original_type="transaction",
        resource=payment_resource(**kwargs),
    )


def refund_body(out_refund_no="R1", status="SUCCESS") -> tuple[str, str]:
    resource = {
        "mchid": MCHID,
        "out_trade_no": "CP2025000001",
        "transaction_id": "4200000000202501011234567890",
        "out_refund_no": out_refund_no,
        "refund_id": "50000000000000000000000000000001",
        "refund_status": status,
        "amount": {"total": 15000, "refund": 15000, "payer_total": 15000, "payer_refund": 15000},
    }
    return bank.build_body(
        event_type=f"REFUND.{status}", summary="退款", original_type="refund", resource=resource
    )


def headers_for(
    body: str, *, timestamp=None, nonce=None, serial=None, private_key=None, signature=None
) -> dict:
    keys = get_keys()
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or random_string(32)
    return {
        "Wechatpay-Serial": serial or keys.serial,
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": signature
        or sign_message(private_key or keys.private_key, timestamp, nonce, body),
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }


def place_order(
    out_trade_no="CP2025000001",
    amount_fen=15000,
    notify_url="http://notify.test/pay/notify/payment/",
    return_url=None,
):
    return get_provider().create_jsapi(
        out_trade_no=out_trade_no,
        description="2025年度校园车证续办",
        amount_fen=amount_fen,
        openid="o-test",
        notify_url=notify_url,
        expire_at=timezone.now() + dt.timedelta(minutes=30),
        return_url=return_url,
    )
