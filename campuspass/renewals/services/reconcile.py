"""Daily reconciliation with the payment platform's bill: every payment and refund that differs in
existence or amount between the bill and our records, for finance to look at."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from campuspass.core.audit import log_action

from ..models import ReconciliationRun, Refund, RenewalOrder


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return start, start + dt.timedelta(days=1)


def _compare(kind: str, ours: dict[str, int], theirs: dict[str, int]) -> list[dict[str, Any]]:
    differences = []
    for key in sorted(ours.keys() | theirs.keys()):
        mine, bill = ours.get(key), theirs.get(key)
        if mine == bill:
            continue
        if bill is None:
            problem = "本系统有记录，账单中没有"
        elif mine is None:
            problem = "账单中有，本系统没有记录"
        else:
            problem = "金额不一致"
        differences.append({"kind": kind, "key": key, "ours_fen": mine, "bill_fen": bill, "problem": problem})
    return differences


def reconcile_day(*, day: dt.date, acting_user: Any = None) -> ReconciliationRun:
    """Download the bill of `day` (Asia/Shanghai) and compare it with the payments and refunds we
    recorded that day (a day without transactions has an empty bill). Raises BillNotReady while
    WeChat Pay is still making the bill, PaymentProviderError when it cannot be downloaded."""
    from campuspass.payments.bills import fetch_bill

    rows = fetch_bill(day)
    start, end = _day_bounds(day)
    our_payments = dict(
        RenewalOrder.objects.filter(paid_at__gte=start, paid_at__lt=end, payment_method="wechat")
        .exclude(transaction_id=None)
        .values_list("out_trade_no", "paid_amount_fen")
    )
    our_refunds = dict(
        Refund.objects.filter(
            status=Refund.Status.SUCCEEDED, finished_at__gte=start, finished_at__lt=end
        ).values_list("out_refund_no", "amount_fen")
    )
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
