"""Money going back. A refund always belongs to one payment of the ledger, and the payment's method
decides how it goes back: `refund_route(payment)` is the one place that says so, and the SMS texts,
the staff pages, the on-site desk and the finance screens all ask it (decision 0006).

Online refunds keep their out_refund_no for every resend, so the platform can never pay one refund
twice; the final state comes only from the platform (notification or query). A refund the platform
ends CLOSED may be started again with a NEW out_refund_no; an ABNORMAL one is finished by the
platform's abnormal-refund handling (its SUCCESS then arrives as usual) or paid out offline and
recorded (who, how, reference). At most one live refund holds a payment's money (a partial unique
index), and the refunded total never exceeds what was paid, per payment and per order."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from campuspass.core.audit import log_action
from campuspass.core.errors import CampusPassError

from ..models import Payment, Refund, RenewalOrder
from ..transitions import REFUND, check_transition, lock, move
from . import notify
from .orders import lock_order, move_order

S = RenewalOrder.Status
R = Refund.Status
M = Payment.Method
REFUND_WINDOW = dt.timedelta(days=365)  # WeChat Pay refuses refunds more than a year after payment


# --- the route: how this payment's money goes back ---------------------------------------------


@dataclass(frozen=True)
class RefundRoute:
    """How a payment's money goes back, in the words each audience needs.

    kind: "online" (through the payment platform, to the payer's WeChat Pay) or "counter" (cash or
    card back at the 保卫处 counter); automatic: the online refund starts by itself (the campaign
    refunds automatically), so nobody needs to apply."""

    kind: str
    automatic: bool
    staff_text: str  # the SMS and the staff member's order page
    office_text: str  # staff pages of the back office and the on-site desk
    action_label: str  # the button finance presses
    sms_template: str = "rejected"  # the registered rejection SMS that says this route's words

    @property
    def online(self) -> bool:
        return self.kind == "online"


def refund_route(payment: Payment) -> RefundRoute:
    """The one answer to "how does this payment's money go back"."""
    campaign = payment.campaign
    if payment.is_counter:
        receipt = f"（收据号 {payment.reference}）" if payment.reference else ""
        return RefundRoute(
            kind="counter",
            automatic=False,
            staff_text=f"请携带现场缴费收据{receipt}到保卫处窗口办理退款。",
            office_text=f"现场{payment.get_method_display()}缴费{receipt}：在窗口退还并登记退款凭证，不能通过微信退款。",
            action_label="窗口退款",
            sms_template="rejected_counter",
        )
    if timezone.now() - payment.paid_at > REFUND_WINDOW:
        return RefundRoute(
            kind="counter",
            automatic=False,
            staff_text="该笔支付已超过一年，无法原路退回，请联系保卫处财务现场办理退款。",
            office_text="微信支付已超过一年，平台不再受理原路退款：请线下退还并登记凭证。",
            action_label="线下退款",
            sms_template="rejected_offline",
        )
    if campaign.auto_refund_on_reject:
        return RefundRoute(
            kind="online",
            automatic=True,
            staff_text="费用将自动原路退回您的微信支付，无需申请。",
            office_text="微信支付：系统自动原路退回，无需代为申请。",
            action_label="原路退款",
            sms_template="rejected_auto",
        )
    return RefundRoute(
        kind="online",
        automatic=False,
        staff_text="请在“订单记录”中点击“申请退款”取回费用。",
        office_text="微信支付：职工在“订单记录”中申请退款，款项原路退回；也可代为申请。",
        action_label="代为申请退款",
    )


def order_refund_route(order: RenewalOrder) -> RefundRoute | None:
    """The route of the payment that paid `order` (None while nothing was paid)."""
    payment = order.applied_payment()
    return refund_route(payment) if payment is not None else None


# --- amounts -------------------------------------------------------------------------------------


def order_refunds(order: RenewalOrder):
    """The refunds of the order's own money (its applied payment), newest first — not those of a
    late or second payment that only mentions the order."""
    return Refund.objects.filter(payment__order=order, payment__state=Payment.State.APPLIED).order_by(
        "-created_at", "-pk"
    )


def refunded_total(order: RenewalOrder) -> int:
    """What has gone back of the order's money (its applied payment)."""
    return (
        Refund.objects.filter(
            payment__order=order, payment__state=Payment.State.APPLIED, status__in=Refund.DONE_STATUSES
        ).aggregate(total=Sum("amount_fen"))["total"]
        or 0
    )


def _payment_refundable(payment: Payment) -> int:
    """Paid minus refunded minus what a live refund holds."""
    held = (
        payment.refunds.filter(status__in=[*Refund.DONE_STATUSES, *Refund.LIVE_STATUSES]).aggregate(
            total=Sum("amount_fen")
        )["total"]
        or 0
    )
    return payment.amount_fen - held


def live_refund(payment: Payment) -> Refund | None:
    return payment.refunds.filter(status__in=Refund.LIVE_STATUSES).first()


def _new_refund_no(payment: Payment, prefix: str) -> str:
    base = (payment.out_trade_no or payment.reference or str(payment.pk))[-20:]
    return f"{prefix}{base}{secrets.token_hex(3).upper()}"[:64]


def _enqueue_submit(refund: Refund) -> None:
    from ..tasks import submit_refund

    transaction.on_commit(lambda: submit_refund.enqueue(refund_id=refund.pk))


def _audit_refund(
    refund: Refund, *, action: str, acting_user: Any, reason: str = "", data: dict | None = None
):
    order = refund.order
    log_action(
        actor=acting_user,
        action=action,
        obj=refund,
        reason=reason,
        data={
            "axis": "refund",
            "from": "",
            "to": refund.status,
            "out_refund_no": refund.out_refund_no,
            "amount_fen": refund.amount_fen,
            "payment": refund.payment_id,
            "method": refund.payment.method,
            **(data or {}),
        },
        plate=order.plate if order else "",
        staff_no=order.staff.staff_no if order else "",
    )


# --- starting a refund ---------------------------------------------------------------------------


def refund_payment(
    *, payment: Payment, acting_user: Any, reason: str, note: str = "", reference: str = ""
) -> Refund:
    """Give back what is left of `payment` along its route, in one step: online → a Refund with a
    new out_refund_no, sent to the platform after commit; counter → recorded as paid back now (the
    clerk has handed the money over; `note` says how, `reference` the voucher). A live refund of
    the payment is returned instead of a second one. Runs in the caller's transaction or its own.
    Raises CampusPassError."""
    with transaction.atomic():
        payment = lock(Payment, payment.pk)
        existing = live_refund(payment)
        if existing is not None:
            return existing
        amount = _payment_refundable(payment)
        if amount <= 0:
            raise CampusPassError("这笔收款已全额退回，无需再次退款。", code="nothing_to_refund")
        route = refund_route(payment)
        requested_by = acting_user if getattr(acting_user, "is_authenticated", False) else None
        order = payment.order
        if route.online:
            refund = Refund.objects.create(
                payment=payment,
                order=order,
                out_refund_no=_new_refund_no(payment, "RF"),
                amount_fen=amount,
                reason=reason[:80],
                requested_by=requested_by,
            )
            _audit_refund(refund, action="renewals.refund.requested", acting_user=acting_user, reason=reason)
            _enqueue_submit(refund)
            return refund
        note = " ".join((note or "").split())
        if not note:
            raise CampusPassError(
                "请填写退款凭证号或说明（如现金退款收据号），以便对账。", code="note_required"
            )
        refund = Refund.objects.create(
            payment=payment,
            order=order,
            out_refund_no=_new_refund_no(payment, "CT"),
            amount_fen=amount,
            # Cash or card given back: done. WeChat money given back by hand (older than the
            # platform accepts) is a payout outside the platform, never a WeChat refund.
            status=R.SUCCEEDED if payment.is_counter else R.PAID_OUT,
            platform_status="COUNTER",
            reason=note[:80],
            attempts=1,
            requested_by=requested_by,
            finished_at=timezone.now(),
            settled_how="counter",
            settled_reference=(reference or note)[:64],
            settled_by=requested_by,
        )
        _audit_refund(refund, action="renewals.refund.paid_at_counter", acting_user=acting_user, reason=note)
        return refund


def refund_request(*, order: RenewalOrder, acting_user: Any = None, reason: str = "审核未通过退款") -> Refund:
    """ "申请退款" / 确定 (or finance on the staff member's behalf, or automatic): rejected →
    refunding, the order's payment refunded online. Raises CampusPassError or TransitionNotAllowed."""
    with transaction.atomic():
        order = lock_order(order)
        payment = order.applied_payment()
        if order.status == S.REFUNDING:
            # A second tap or a second tab: the first request stands.
            return order_refunds(order).first()
        if order.status == S.REFUND_FAILED:
            raise CampusPassError(
                "该订单的退款处理异常，保卫处财务会尽快重新办理，无需再次申请。", code="refund_failed"
            )
        check_transition(order.status, S.REFUNDING)
        if payment is None:
            raise CampusPassError("该订单没有收款记录，无需退款。", code="nothing_to_refund")
        route = refund_route(payment)
        if not route.online:
            code = "refund_window" if payment.method == M.WECHAT else "refund_at_counter"
            raise CampusPassError(f"该订单不能在线退款。{route.staff_text}", code=code)
        refund = refund_payment(payment=payment, acting_user=acting_user, reason=reason)
        move_order(
            order,
            S.REFUNDING,
            acting_user=acting_user,
            action="renewals.order.refunding",
            reason=reason,
            data={"out_refund_no": refund.out_refund_no, "amount_fen": refund.amount_fen},
        )
    return refund


def refund_at_counter(*, order: RenewalOrder, acting_user: Any, note: str) -> Refund:
    """An order paid in cash or by card is refunded at the counter: rejected → refunding → refunded,
    recorded with who paid the money back and the note (e.g. the voucher number)."""
    note = " ".join((note or "").split())
    if not note:
        raise CampusPassError("请填写退款凭证号或说明（如现金退款收据号），以便对账。", code="note_required")
    with transaction.atomic():
        order = lock_order(order)
        payment = order.applied_payment()
        if payment is None or refund_route(payment).online:
            raise CampusPassError(
                "该订单通过微信支付，请使用“代为申请退款”原路退回。", code="not_counter_paid"
            )
        check_transition(order.status, S.REFUNDING)
        refund = refund_payment(payment=payment, acting_user=acting_user, reason=note, note=note)
        data = {
            "out_refund_no": refund.out_refund_no,
            "amount_fen": refund.amount_fen,
            "method": payment.method,
        }
        move_order(
            order,
            S.REFUNDING,
            acting_user=acting_user,
            action="renewals.order.refunding",
            reason=note,
            data=data,
        )
        move_order(
            order,
            S.REFUNDED,
            acting_user=acting_user,
            action="renewals.order.refunded",
            reason=note,
            data=data,
        )
        notify.order_refunded(order, refund.amount_fen)
    return refund


def refund_retry(*, order: RenewalOrder, acting_user: Any) -> Refund:
    """Finance finishes a refund that ended badly: a FAILED one is resent with the SAME
    out_refund_no; after CLOSED a new refund (new out_refund_no) is started. ABNORMAL needs
    `refund_pay_out` (or the platform's abnormal handling). Raises CampusPassError."""
    with transaction.atomic():
        order = lock_order(order)
        payment = order.applied_payment()
        latest = order_refunds(order).first()
        if payment is None or latest is None:
            raise CampusPassError("该订单没有可重试的退款。", code="no_refund")
        if latest.status == R.ABNORMAL:
            raise CampusPassError(
                "退款异常（如职工的银行卡已注销）：请在微信支付商户平台发起异常退款处理，"
                "或线下退款后在此登记“线下退款完成”。",
                code="refund_abnormal",
            )
        if latest.status == R.FAILED:
            from campuspass.payments import outcomes

            # Finance resends it (e.g. after topping up): its 需要处理 entry is dealt with.
            outcomes.resolve_alerts_for("refund", latest.out_refund_no, acting_user=acting_user)
            # The order follows below, as for a restarted CLOSED refund.
            refund = refund_resend(refund=latest, acting_user=acting_user, order_follows=False)
            _enqueue_submit(refund)
        elif latest.status == R.CLOSED:
            refund = refund_payment(payment=payment, acting_user=acting_user, reason="退款关闭后重新退款")
        else:
            raise CampusPassError(
                f"该订单没有可重试的退款（最近一笔：{latest.get_status_display()}）。", code="no_refund"
            )
        if order.status == S.REFUND_FAILED:
            _order_back_to_refunding(order, refund, acting_user)
    return refund


def refund_resend(*, refund: Refund, acting_user: Any, order_follows: bool = True) -> Refund:
    """A FAILED refund back to pending with the SAME out_refund_no (the platform never pays one
    refund twice); the order follows back to 退款中 when the refund is of its own money. The caller
    sends it (`refund_submit`, now or after commit). Raises CampusPassError."""
    with transaction.atomic():
        order = lock_order(refund.order_id) if refund.order_id else None
        refund = lock(Refund, refund.pk)
        if refund.status != R.FAILED:
            raise CampusPassError(
                f"退款当前状态为“{refund.get_status_display()}”，只有“退款失败”的退款可以原单号重新提交。",
                code="not_failed",
            )
        refund.last_error = ""
        move(
            refund,
            R.PENDING,
            axis=REFUND,
            acting_user=acting_user,
            action="renewals.refund.retried",
            fields=("last_error",),
            data={"out_refund_no": refund.out_refund_no},
        )
        own_money = (
            order is not None
            and refund.payment.order_id == order.pk
            and refund.payment.state == Payment.State.APPLIED
        )
        if order_follows and own_money and order.status == S.REFUND_FAILED:
            _order_back_to_refunding(order, refund, acting_user)
    return refund


def _order_back_to_refunding(order: RenewalOrder, refund: Refund, acting_user: Any) -> None:
    """退款失败 → 退款中 for a locked order whose money finance sends again (retried or restarted)."""
    move_order(
        order,
        S.REFUNDING,
        acting_user=acting_user,
        action="renewals.order.refunding",
        reason="财务重新办理退款",
        data={"out_refund_no": refund.out_refund_no, "amount_fen": refund.amount_fen},
    )


PAY_OUT_HOWS = {"bank_transfer": "银行转账", "cash": "现金", "merchant_platform": "商户平台异常退款处理"}


def refund_pay_out(*, refund: Refund, acting_user: Any, how: str, reference: str, note: str = "") -> Refund:
    """An ABNORMAL refund paid back outside the platform: abnormal → paid_out, recorded with who,
    how and the reference; the order becomes 已退款. Raises CampusPassError."""
    reference = "".join((reference or "").split())
    if how not in PAY_OUT_HOWS:
        raise CampusPassError("请选择线下退款方式：银行转账、现金或商户平台异常退款处理。", code="how")
    if not reference:
        raise CampusPassError(
            "请填写线下退款的凭证号（转账流水号、收据号或商户平台单号）。", code="reference"
        )
    with transaction.atomic():
        order = lock_order(refund.order_id) if refund.order_id else None
        refund = lock(Refund, refund.pk)
        if refund.status != R.ABNORMAL:
            raise CampusPassError(
                f"退款当前状态为“{refund.get_status_display()}”，只有“退款异常”的退款可以登记线下退款。",
                code="not_abnormal",
            )
        user = acting_user if getattr(acting_user, "is_authenticated", False) else None
        from campuspass.payments import outcomes

        outcomes.resolve_alerts_for(
            "refund", refund.out_refund_no, acting_user=acting_user, resolution="handled"
        )
        refund.settled_how, refund.settled_reference, refund.settled_by = how, reference[:64], user
        refund.finished_at = timezone.now()
        move(
            refund,
            R.PAID_OUT,
            axis=REFUND,
            acting_user=acting_user,
            action="renewals.refund.paid_out",
            reason=note,
            fields=("settled_how", "settled_reference", "settled_by", "finished_at"),
            data={"how": how, "reference": reference, "out_refund_no": refund.out_refund_no},
        )
        own_money = (
            refund.payment.order_id == getattr(order, "pk", None)
            and refund.payment.state == Payment.State.APPLIED
        )
        if order is not None and order.status == S.REFUND_FAILED and own_money:
            move_order(
                order,
                S.REFUNDED,
                acting_user=acting_user,
                action="renewals.order.refunded",
                reason=f"线下退款（{PAY_OUT_HOWS[how]}，凭证 {reference}）",
                data={"out_refund_no": refund.out_refund_no, "how": how},
            )
            notify.order_refunded(order, refund.amount_fen)
    return refund


# --- the platform's answers ----------------------------------------------------------------------

PLATFORM_TO_STATUS = {
    "SUCCESS": R.SUCCEEDED,
    "CLOSED": R.CLOSED,
    "ABNORMAL": R.ABNORMAL,
    # A refused request whose money must go back another way: the payer's WeChat account is gone
    # ("商户可自行处理退款"), so the refund is ABNORMAL — paid out offline and recorded ("线下退款
    # 完成") — rather than FAILED, which could only be resent.
    "USER_ACCOUNT_ABNORMAL": R.ABNORMAL,
}


def refund_mark_submitted(*, refund_id: int, refund_id_on_platform: str, platform_status: str) -> Refund:
    """The platform accepted the request (PROCESSING): pending → processing; the final state later."""
    with transaction.atomic():
        refund = lock(Refund, refund_id)
        refund.attempts += 1
        refund.refund_id = refund_id_on_platform or refund.refund_id
        refund.platform_status = platform_status
        fields = ("attempts", "refund_id", "platform_status")
        if refund.status == R.PENDING:
            move(
                refund,
                R.PROCESSING,
                axis=REFUND,
                acting_user=None,
                action="renewals.refund.processing",
                fields=fields,
                data={"out_refund_no": refund.out_refund_no},
            )
        else:
            refund.save(update_fields=list(fields))
    return refund


def refund_apply_result(
    *,
    out_refund_no: str,
    platform_status: str,
    refund_id_on_platform: str = "",
    amount_fen: int | None = None,
    error: str = "",
    source: str,
    succeeded: bool | None = None,
) -> tuple[Refund, bool]:
    """A final answer for one refund from a notification, a query or a refused request:
    SUCCESS → succeeded, CLOSED → closed, ABNORMAL → abnormal, anything else (a final refusal of the
    request) → failed. Returns (refund, changed); the same answer twice is a no-op. The order
    follows: refunding → refunded / refund_failed. Raises Refund.DoesNotExist for an unknown number."""
    if succeeded is not None and platform_status not in PLATFORM_TO_STATUS:
        platform_status = "SUCCESS" if succeeded else platform_status
    with transaction.atomic():
        order_id = Refund.objects.filter(out_refund_no=out_refund_no).values_list("order_id", flat=True).get()
        order = lock_order(order_id) if order_id else None  # always order → refund, as everywhere
        refund = lock(Refund, None, out_refund_no=out_refund_no)
        target = PLATFORM_TO_STATUS.get(platform_status, R.FAILED)
        if target == R.SUCCEEDED and amount_fen is not None and amount_fen != refund.amount_fen:
            log_action(
                actor=None,
                action="renewals.refund.amount_mismatch",
                obj=refund,
                data={
                    "out_refund_no": out_refund_no,
                    "expected_fen": refund.amount_fen,
                    "reported_fen": amount_fen,
                },
                plate=order.plate if order else "",
                staff_no=order.staff.staff_no if order else "",
            )
            target, error = R.ABNORMAL, error or "退款金额与申请金额不符"
        if refund.status == target or refund.status in (R.SUCCEEDED, R.PAID_OUT, R.CLOSED):
            return refund, False
        from ..transitions import can_transition

        if not can_transition(refund.status, target, REFUND):
            return refund, False  # e.g. a stale ABNORMAL after the money went back offline
        refund.platform_status = platform_status
        refund.refund_id = refund_id_on_platform or refund.refund_id
        refund.last_error = (
            "" if target == R.SUCCEEDED else error or f"支付平台退款状态：{platform_status}"
        )[:300]
        refund.finished_at = timezone.now() if target in (R.SUCCEEDED, R.CLOSED) else None
        move(
            refund,
            target,
            axis=REFUND,
            acting_user=None,
            action={
                R.SUCCEEDED: "renewals.refund.succeeded",
                R.CLOSED: "renewals.refund.closed",
                R.ABNORMAL: "renewals.refund.abnormal",
                R.FAILED: "renewals.refund.failed",
            }[target],
            reason=refund.last_error,
            fields=("platform_status", "refund_id", "last_error", "finished_at"),
            data={"out_refund_no": out_refund_no, "platform_status": platform_status, "source": source},
        )
        if (
            order is not None
            and refund.payment.order_id == order.pk
            and refund.payment.state == Payment.State.APPLIED
        ):
            _order_follows(order, refund, source=source)
        elif target == R.SUCCEEDED and refund.payment.state == Payment.State.UNCLAIMED and order is not None:
            notify.payment_returned(order, refund.amount_fen)
    return refund, True


def _order_follows(order: RenewalOrder, refund: Refund, *, source: str) -> None:
    data = {
        "out_refund_no": refund.out_refund_no,
        "platform_status": refund.platform_status,
        "source": source,
    }
    if refund.status == R.SUCCEEDED:
        if order.status == S.REFUND_FAILED:
            # The platform paid after all (a late notification or query): record it truthfully.
            move_order(
                order,
                S.REFUNDING,
                acting_user=None,
                action="renewals.order.refunding",
                reason="支付平台确认退款成功",
                data=data,
            )
        if order.status == S.REFUNDING:
            move_order(order, S.REFUNDED, acting_user=None, action="renewals.order.refunded", data=data)
            notify.order_refunded(order, refund.amount_fen)
    elif order.status == S.REFUNDING:
        move_order(
            order,
            S.REFUND_FAILED,
            acting_user=None,
            action="renewals.order.refund_failed",
            reason=refund.last_error,
            data=data,
        )


# Platform error codes that are a final "no" for this refund (anything else — a network error,
# SYSTEM_ERROR, FREQUENCY_LIMITED — may have reached the platform: keep it and ask again later).
QUERY_REFUND_AFTER = dt.timedelta(minutes=5)
FINAL_STATES = frozenset({"SUCCESS", "CLOSED", "ABNORMAL"})  # a refund's final states on the platform


def refund_record_error(*, refund_id: int, error: str) -> Refund:
    """A submission that may or may not have reached the platform: keep the refund pending (the
    same out_refund_no is sent again by `check_refunds`)."""
    with transaction.atomic():
        refund = lock(Refund, refund_id)
        refund.attempts += 1
        refund.last_error = error[:300]
        refund.save(update_fields=["attempts", "last_error"])
    return refund


def refund_submit(*, refund_id: int) -> Refund:
    """Send a pending refund to the platform with its stored out_refund_no (never a new one). No
    transaction is open during the call; a refusal is judged by the one error table
    (`payments.outcomes.failed`): BACKOFF / RETRY_LATER keep it pending for `check_refunds` (after
    `backoff_delay` for BACKOFF), anything else is a final "no" for this request (FINANCE also
    reaches finance's 需要处理 list)."""
    from campuspass.payments import outcomes
    from campuspass.payments.providers import PaymentProviderError, get_provider

    from .payments import notify_url

    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.status != R.PENDING or refund.payment.method != M.WECHAT:
        return refund
    try:
        state = get_provider().refund(
            out_trade_no=refund.payment.out_trade_no,
            out_refund_no=refund.out_refund_no,
            amount_fen=refund.amount_fen,
            total_fen=refund.payment.amount_fen,
            reason=refund.reason,
            notify_url=notify_url("refund"),
        )
    except PaymentProviderError as exc:
        answer = outcomes.failed(
            "refund",
            refund.out_refund_no,
            exc,
            trade_no=refund.payment.out_trade_no,
            refund_no=refund.out_refund_no,
        )
        if not answer.retry:
            Refund.objects.filter(pk=refund.pk).update(attempts=F("attempts") + 1)
            refund, _ = refund_apply_result(
                out_refund_no=refund.out_refund_no,
                platform_status=exc.code,
                error=f"{answer.meaning}（{exc.code}：{exc.message}）",
                source="refund_request",
            )
            return refund
        return refund_record_error(refund_id=refund.pk, error=f"{exc.code}: {exc.message}")
    outcomes.succeeded("refund", refund.out_refund_no)
    refund = refund_mark_submitted(
        refund_id=refund.pk, refund_id_on_platform=state.refund_id, platform_status=state.status
    )
    if state.status in FINAL_STATES:
        return _apply_final_state(refund, state, source="refund_request")
    return refund


def refund_sync(*, refund_id: int) -> Refund:
    """Ask the platform about a refund in progress and apply a final state."""
    from campuspass.payments import outcomes
    from campuspass.payments.providers import PaymentProviderError, get_provider

    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.status != R.PROCESSING:
        return refund
    try:
        state = get_provider().query_refund(refund.out_refund_no)
    except PaymentProviderError as exc:
        outcomes.failed(
            "query_refund",
            refund.out_refund_no,
            exc,
            trade_no=refund.payment.out_trade_no,
            refund_no=refund.out_refund_no,
        )
        return refund_record_error(refund_id=refund.pk, error=f"查询失败 {exc.code}: {exc.message}")
    outcomes.succeeded("query_refund", refund.out_refund_no)
    if state.status not in FINAL_STATES:
        return refund
    return _apply_final_state(refund, state, source="query")


def _apply_final_state(refund: Refund, state, *, source: str) -> Refund:
    """The platform's final answer (SUCCESS / ABNORMAL / CLOSED) for `refund`, applied once."""
    refund, _ = refund_apply_result(
        out_refund_no=refund.out_refund_no,
        platform_status=state.status,
        refund_id_on_platform=state.refund_id,
        amount_fen=state.amount_fen,
        source=source,
    )
    return refund


def check_refunds(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Scheduled: resend refunds whose submission failed on the way; query those the platform has
    been processing for a while (the notification may never come). A refund whose last call was
    answered with a BACKOFF code waits until `backoff_delay` has passed; one with an open alert
    waits for finance (decision 0035)."""
    from campuspass.payments import outcomes

    now = now or timezone.now()
    counts = {"resent": 0, "queried": 0, "waiting": 0}
    waiting = outcomes.waiting_keys("refund", now)
    for pk, number in Refund.objects.filter(status=R.PENDING, payment__method=M.WECHAT).values_list(
        "pk", "out_refund_no"
    ):
        if number in waiting:
            counts["waiting"] += 1
            continue
        refund_submit(refund_id=pk)
        counts["resent"] += 1
    waiting = outcomes.waiting_keys("query_refund", now)
    for pk, number in Refund.objects.filter(
        status=R.PROCESSING, created_at__lte=now - QUERY_REFUND_AFTER
    ).values_list("pk", "out_refund_no"):
        if number in waiting:
            counts["waiting"] += 1
            continue
        refund_sync(refund_id=pk)
        counts["queried"] += 1
    return counts
