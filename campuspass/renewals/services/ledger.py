"""The payment ledger (decision 0006): every sum of money taken is a `Payment` row, written here and
nowhere else. A payment its order can take (the order is waiting for payment) is APPLIED and moves
the order to 待审核; any other — paid after the order closed, a second payment of a paid order —
is UNCLAIMED: kept, shown in 退款管理 as needing action, and given back automatically when the
campaign refunds automatically. Counter sales of new passes are rows without an order.

References are unique per method (WeChat's transaction_id; the counter's receipt number for cash
and card together), backed by a unique index."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from campuspass.core.audit import build_entry, log_action
from campuspass.core.errors import CampusPassError

from ..models import Campaign, Payment, Refund, RenewalOrder

S = RenewalOrder.Status
M = Payment.Method


class ReceiptUsed(CampusPassError):
    pass


def receipt_in_use(receipt_no: str) -> Payment | None:
    """The counter payment (cash or card) already recorded under this receipt number."""
    return (
        Payment.objects.filter(method__in=Payment.COUNTER_METHODS, reference=receipt_no)
        .select_related("order", "new_pass")
        .first()
    )


def check_receipt_unused(receipt_no: str) -> None:
    """Raises ReceiptUsed when the receipt number is already in the ledger."""
    used = receipt_in_use(receipt_no)
    if used is not None:
        what = (
            f"订单 {used.order.out_trade_no}"
            if used.order
            else f"新证 {used.new_pass.number}"
            if used.new_pass
            else "一笔收款"
        )
        raise ReceiptUsed(
            f"收据号 {receipt_no} 已用于{what}，同一张收据不能登记两次。请核对收据号。", code="receipt_used"
        )


def _insert(payment: Payment) -> Payment:
    if payment.is_counter:
        check_receipt_unused(payment.reference)
    try:
        with transaction.atomic():
            payment.save()
    except IntegrityError:
        if payment.is_counter:
            check_receipt_unused(payment.reference)
        raise
    return payment


def _log(payment: Payment, *, acting_user: Any, order: RenewalOrder | None = None, reason: str = "") -> None:
    log_action(**_entry_values(payment, acting_user=acting_user, order=order, reason=reason))


def _entry_values(
    payment: Payment, *, acting_user: Any, order: RenewalOrder | None = None, reason: str = ""
) -> dict:
    return dict(
        actor=acting_user,
        action="renewals.payment.recorded"
        if payment.state == Payment.State.APPLIED
        else "renewals.payment.unclaimed",
        obj=payment,
        reason=reason,
        data={
            "method": payment.method,
            "reference": payment.reference,
            "amount_fen": payment.amount_fen,
            "state": payment.state,
            "kind": payment.kind,
            "order": order.pk if order else None,
            "source": payment.source,
        },
        plate=order.plate if order else (payment.new_pass.vehicle.plate if payment.new_pass_id else ""),
        staff_no=order.staff.staff_no
        if order
        else (payment.new_pass.holder.staff_no if payment.new_pass_id else ""),
    )


def payment_record(
    *,
    order: RenewalOrder,
    method: str,
    reference: str,
    amount_fen: int,
    acting_user: Any = None,
    source: str,
    paid_at: dt.datetime | None = None,
    payer_openid: str = "",
    note: str = "",
    order_has_payment: bool | None = None,
) -> Payment:
    """Record money paid for `order` (locked by the caller, inside its transaction). The order takes
    it when it is waiting for payment; otherwise it is UNCLAIMED (and refunded at once when the
    campaign refunds automatically). Raises ReceiptUsed for a counter receipt already recorded.
    `order_has_payment`: whether the order has taken a payment already, when the caller has just
    read that under the same lock (None: read it here)."""
    from .orders import order_pay

    if order.status != S.PENDING_PAYMENT:
        payable = False
    elif order_has_payment is not None:
        payable = not order_has_payment
    else:
        payable = not order.payments.filter(state=Payment.State.APPLIED).exists()
    payment = _insert(
        Payment(
            campaign_id=order.campaign_id,
            order=order,
            kind=Payment.Kind.RENEWAL,
            method=method,
            reference=reference,
            out_trade_no=order.out_trade_no if method == M.WECHAT else "",
            amount_fen=amount_fen,
            state=Payment.State.APPLIED if payable else Payment.State.UNCLAIMED,
            payer_openid=payer_openid,
            paid_at=paid_at or timezone.now(),
            source=source,
            recorded_by=acting_user if getattr(acting_user, "is_authenticated", False) else None,
            note=note[:200],
        )
    )
    if payable:
        # The payment's entry and the order's move to 待审核 are written in one INSERT.
        recorded = build_entry(**_entry_values(payment, acting_user=acting_user, order=order))
        order_pay(
            order=order,
            payment=payment,
            acting_user=acting_user,
            source=source,
            audit_before=((recorded, payment),),
        )
        return payment
    reason = (
        f"订单已{order.status_label}，这笔钱没有订单可用，需退回付款人"
        if order.status != S.PENDING_PAYMENT
        else "订单已由另一笔收款支付，这笔钱需退回付款人"
    )
    _log(payment, acting_user=acting_user, order=order, reason=reason)
    if order.campaign.auto_refund_on_reject:
        from .refunds import refund_payment

        refund_payment(payment=payment, acting_user=None, reason="重复或逾期付款自动退款")
    return payment


def payment_record_sale(
    *,
    campaign: Campaign,
    new_pass: Any,
    method: str,
    receipt_no: str,
    acting_user: Any,
    note: str = "",
) -> Payment:
    """A new pass sold at the counter: its money in the ledger (no order). Caller's transaction."""
    payment = _insert(
        Payment(
            campaign=campaign,
            new_pass=new_pass,
            kind=Payment.Kind.PASS_SALE,
            method=method,
            reference=receipt_no,
            amount_fen=campaign.price_fen,
            state=Payment.State.APPLIED,
            source="counter",
            recorded_by=acting_user if getattr(acting_user, "is_authenticated", False) else None,
            note=note[:200],
        )
    )
    _log(payment, acting_user=acting_user)
    return payment


# --- reading the ledger ----------------------------------------------------------------------


def refunded_fen(payment: Payment) -> int:
    """What has gone back of this payment (platform success or offline payout)."""
    return (
        payment.refunds.filter(status__in=Refund.DONE_STATUSES).aggregate(total=Sum("amount_fen"))["total"]
        or 0
    )


def unclaimed_payments():
    """Money without a live order that has not gone back yet (退款管理 → 待处理款项)."""
    return (
        Payment.objects.filter(state=Payment.State.UNCLAIMED)
        .exclude(refunds__status__in=[*Refund.DONE_STATUSES, *Refund.LIVE_STATUSES])
        .select_related("order__staff", "campaign")
        .order_by("paid_at", "pk")
    )


def ledger_totals(*, campaign: Campaign | None = None, method: str | None = None) -> dict[str, int]:
    """Money taken and money given back from the ledger: {"taken_fen", "refunded_fen", "payments",
    "refunds"} (all methods, or one)."""
    payments = Payment.objects.all()
    refunds = Refund.objects.filter(status__in=Refund.DONE_STATUSES)
    if campaign is not None:
        payments = payments.filter(campaign=campaign)
        refunds = refunds.filter(payment__campaign=campaign)
    if method is not None:
        payments = payments.filter(method=method)
        refunds = refunds.filter(payment__method=method)
    taken = payments.aggregate(total=Sum("amount_fen"))
    back = refunds.aggregate(total=Sum("amount_fen"))
    return {
        "taken_fen": taken["total"] or 0,
        "payments": payments.count(),
        "refunded_fen": back["total"] or 0,
        "refunds": refunds.count(),
    }


def wechat_refunds_q() -> Q:
    """Refunds that went back through WeChat Pay (what its bill lists)."""
    return Q(payment__method=M.WECHAT, status=Refund.Status.SUCCEEDED)
