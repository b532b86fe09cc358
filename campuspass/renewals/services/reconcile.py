"""Daily reconciliation with the payment platform's bill: every payment and refund that differs in
existence or amount between the bill and our records, for finance to look at."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from campuspass.core.audit import log_action

from ..models import Payment, ReconciliationRun, Refund


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return start, start + dt.timedelta(days=1)


EXPLANATIONS = {
    ("payment", "ours_only"): (
        "本系统记为微信收款，账单中没有：多为零点前后跨日（次日账单会出现），"
        "若次日仍没有，请在支付平台按商户订单号查询。"
    ),
    ("payment", "bill_only"): (
        "账单中有这笔微信收款，本系统没有：通知丢失且查询尚未补到；系统每分钟查询未支付订单，"
        "订单已关闭的会作为“待退回”款项入账，请在退款管理中处理。"
    ),
    ("payment", "amount"): "同一商户订单号金额不一致：请在支付平台核对该笔交易，本系统按订单金额入账。",
    ("refund", "ours_only"): (
        "本系统记为微信退款成功，账单中没有：多为跨日（退款成功时间在次日），次日账单再核对。"
    ),
    ("refund", "bill_only"): (
        "账单中有这笔退款，本系统没有成功记录：退款结果通知可能未到，系统会定时查询；"
        "也可在退款管理中点“查询”。"
    ),
    ("refund", "amount"): "同一退款单号金额不一致：请在支付平台核对该笔退款。",
}


def _compare(kind: str, ours: dict[str, int], theirs: dict[str, int]) -> list[dict[str, Any]]:
    differences = []
    for key in sorted(ours.keys() | theirs.keys()):
        mine, bill = ours.get(key), theirs.get(key)
        if mine == bill:
            continue
        if bill is None:
            problem, case = "本系统有记录，账单中没有", "ours_only"
        elif mine is None:
            problem, case = "账单中有，本系统没有记录", "bill_only"
        else:
            problem, case = "金额不一致", "amount"
        differences.append(
            {
                "kind": kind,
                "key": key,
                "ours_fen": mine,
                "bill_fen": bill,
                "problem": problem,
                "explanation": EXPLANATIONS[(kind, case)],
            }
        )
    return differences


def reconcile_day(*, day: dt.date, acting_user: Any = None) -> ReconciliationRun:
    """Fetch the bill of `day` (Asia/Shanghai) and compare it with the WeChat payments and refunds
    of the ledger that day (a day without transactions has an empty bill); counter money (cash,
    card, offline payouts) is listed separately, never as a difference. Raises BillNotReady while
    WeChat Pay is still making the bill, PaymentProviderError when it cannot be downloaded."""
    from campuspass.payments.bills import fetch_bill

    rows = fetch_bill(day)
    our_payments, our_refunds = wechat_side(day)
    counter = counter_side(day)
    bill_payments: dict[str, int] = {}
    bill_refunds: dict[str, int] = {}
    for row in rows:
        if row.kind == "payment" and row.state in {"SUCCESS", "REFUND"}:
            bill_payments[row.out_trade_no] = bill_payments.get(row.out_trade_no, 0) + row.amount_fen
        elif row.kind == "refund" and row.state == "SUCCESS":
            bill_refunds[row.out_refund_no] = bill_refunds.get(row.out_refund_no, 0) + row.amount_fen
    differences = _compare("payment", our_payments, bill_payments) + _compare(
        "refund", our_refunds, bill_refunds
    )
    with transaction.atomic():
        run, _ = ReconciliationRun.objects.update_or_create(
            day=day,
            defaults={
                "payments_ours": len(our_payments),
                "payments_bill": len(bill_payments),
                "refunds_ours": len(our_refunds),
                "refunds_bill": len(bill_refunds),
                "paid_total_fen": sum(our_payments.values()),
                "refunded_total_fen": sum(our_refunds.values()),
                "differences": differences,
                "counter": counter,
                "created_at": timezone.now(),
            },
        )
        log_action(
            actor=acting_user,
            action="renewals.reconciliation.completed",
            obj=run,
            data={"day": day.isoformat(), "differences": len(differences)},
        )
    return run


def wechat_side(day: dt.date) -> tuple[dict[str, int], dict[str, int]]:
    """The ledger's WeChat Pay money of `day`: {out_trade_no: fen} paid, {out_refund_no: fen}
    refunded through the platform — exactly what WeChat's bill lists."""
    start, end = _day_bounds(day)
    payments: dict[str, int] = {}
    for out_trade_no, amount in Payment.objects.filter(
        method=Payment.Method.WECHAT, paid_at__gte=start, paid_at__lt=end
    ).values_list("out_trade_no", "amount_fen"):
        payments[out_trade_no] = payments.get(out_trade_no, 0) + amount
    refunds = dict(
        Refund.objects.filter(
            payment__method=Payment.Method.WECHAT,
            status=Refund.Status.SUCCEEDED,
            finished_at__gte=start,
            finished_at__lt=end,
        ).values_list("out_refund_no", "amount_fen")
    )
    return payments, refunds


def counter_side(day: dt.date) -> dict[str, Any]:
    """Money taken and paid back outside WeChat Pay on `day` (cash, card, offline payouts of
    abnormal refunds), listed for finance beside the comparison."""
    start, end = _day_bounds(day)
    payments = [
        {"method": m, "reference": ref, "amount_fen": fen}
        for m, ref, fen in Payment.objects.filter(
            method__in=Payment.COUNTER_METHODS, paid_at__gte=start, paid_at__lt=end
        )
        .order_by("paid_at", "pk")
        .values_list("method", "reference", "amount_fen")
    ]
    refunds = [
        {"out_refund_no": no, "how": how or "counter", "reference": ref, "amount_fen": fen}
        for no, how, ref, fen in Refund.objects.filter(finished_at__gte=start, finished_at__lt=end)
        .filter(
            models.Q(payment__method__in=Payment.COUNTER_METHODS, status=Refund.Status.SUCCEEDED)
            | models.Q(status=Refund.Status.PAID_OUT)
        )
        .order_by("finished_at", "pk")
        .values_list("out_refund_no", "settled_how", "settled_reference", "amount_fen")
    ]
    return {
        "payments": payments,
        "payments_fen": sum(p["amount_fen"] for p in payments),
        "refunds": refunds,
        "refunds_fen": sum(r["amount_fen"] for r in refunds),
    }
