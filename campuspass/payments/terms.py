"""Frozen payment terms: the first "立即支付" fixes what WeChat Pay sees for an out_trade_no."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction

from campuspass.core.errors import CampusPassError

from .models import PaymentTerms

UNREAD = object()  # `freeze_terms(stored=…)` not given: the stored terms are read there


def stored_terms(out_trade_no: str) -> PaymentTerms | None:
    """The terms frozen for `out_trade_no`, or None when it was never sent."""
    return PaymentTerms.objects.filter(out_trade_no=out_trade_no).first()


def freeze_terms(
    *,
    out_trade_no: str,
    description: str,
    amount_fen: int,
    time_expire: dt.datetime,
    notify_url: str,
    openid: str = "",
    stored: PaymentTerms | None | object = UNREAD,
) -> PaymentTerms:
    """The terms stored for `out_trade_no`, stored now from the arguments if this is the first send.

    Later calls get the stored terms whatever they pass (a campaign edited meanwhile changes
    nothing for this order). Raises CampusPassError when a different WeChat user tries to pay an
    order placed for another: WeChat binds the payer to the out_trade_no. `stored`: what
    `stored_terms` answered, when the caller has just read it (not read again)."""
    terms = stored_terms(out_trade_no) if stored is UNREAD else stored
    if terms is None:
        values = {
            "out_trade_no": out_trade_no,
            "description": description[:127],
            "amount_fen": int(amount_fen),
            "time_expire": time_expire.replace(microsecond=0),
            "notify_url": notify_url,
            "payer_openid": openid,
        }
        try:
            if transaction.get_connection().in_atomic_block:
                with transaction.atomic():  # a savepoint: a duplicate must not break the caller's
                    terms = PaymentTerms.objects.create(**values)
            else:
                # Autocommit: one INSERT, and a refused duplicate leaves nothing to roll back.
                terms = PaymentTerms.objects.create(**values)
        except IntegrityError:  # a second tab froze them meanwhile
            terms = PaymentTerms.objects.get(out_trade_no=out_trade_no)
    if openid != terms.payer_openid:
        raise CampusPassError(
            "该订单已在另一个微信账号中发起支付，请回到首次支付时使用的微信中继续支付；"
            "如需更换微信账号，请等待订单超时关闭后重新提交。",
            code="payer_changed",
        )
    return terms


def frozen_expiry(out_trade_no: str) -> dt.datetime | None:
    """The time_expire sent for `out_trade_no`, or None when it was never sent."""
    return (
        PaymentTerms.objects.filter(out_trade_no=out_trade_no).values_list("time_expire", flat=True).first()
    )
