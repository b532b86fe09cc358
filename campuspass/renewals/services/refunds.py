"""Refunds of rejected orders. The out_refund_no is created once and reused on every retry, so the
payment platform can never pay one refund twice; the refunded total never exceeds what was paid; the
final state comes only from the platform (notification or query)."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from campuspass.core.audit import log_action
from campuspass.core.errors import CampusPassError

from ..models import Refund, RenewalOrder
from ..transitions import check_transition
from . import notify
from .orders import _locked, _move

S = RenewalOrder.Status
REFUND_WINDOW = dt.timedelta(days=365)  # WeChat Pay refuses refunds more than a year after payment


def _enqueue_submit(refund: Refund) -> None:
    from ..tasks import submit_refund

    transaction.on_commit(lambda: submit_refund.enqueue(refund_id=refund.pk))


def refunded_total(order: RenewalOrder) -> int:
    return (
        order.refunds.filter(status=Refund.Status.SUCCEEDED).aggregate(total=Sum("amount_fen"))["total"] or 0
    )


def refund_request(*, order: RenewalOrder, acting_user: Any = None, reason: str = "审核未通过退款") -> Refund:
    """ "申请退款" / 确定: rejected → refunding, one Refund with its out_refund_no; the platform is
    called after commit. Raises CampusPassError or TransitionNotAllowed."""
    with transaction.atomic():
        order = _locked(order)
        if order.status == S.REFUNDING:
            # A second tap or a second tab: the first request stands.
            return order.refunds.order_by("-created_at").first()
        if order.status == S.REFUND_FAILED:
            # A new request would need a new out_refund_no; only finance retries the existing one.
            raise CampusPassError(
                "该订单的退款处理异常，保卫处财务会尽快重新办理，无需再次申请。", code="refund_failed"
            )
        check_transition(order.status, S.REFUNDING)
        if order.payment_method and order.payment_method != "wechat":
            # Paid in cash or by card at the counter: WeChat Pay cannot return that money.
            raise CampusPassError(
                "该订单在窗口现场缴费，不能在线退款。请携带收据到保卫处窗口办理退款。",
                code="refund_at_counter",
            )
        if order.paid_at is None or timezone.now() - order.paid_at > REFUND_WINDOW:
            raise CampusPassError(
                "该订单支付已超过一年，无法原路退款，请联系保卫处财务现场办理。", code="refund_window"
            )
        amount = order.paid_amount_fen - refunded_total(order)
        if amount <= 0:
            raise CampusPassError("该订单已全额退款，无需再次申请。", code="nothing_to_refund")
        refund = Refund.objects.create(
            order=order,
            out_refund_no=f"RF{order.out_trade_no[2:]}{secrets.token_hex(2).upper()}"[:64],
            amount_fen=amount,
            reason=reason[:80],
            requested_by=acting_user if getattr(acting_user, "is_authenticated", False) else None,
        )
        _move(
            order,
            S.REFUNDING,
            acting_user=acting_user,
            action="renewals.refund.requested",
            reason=reason,
            data={"out_refund_no": refund.out_refund_no, "amount_fen": amount},
        )
        _enqueue_submit(refund)
    return refund


def refund_retry(*, order: RenewalOrder, acting_user: Any) -> Refund:
    """Finance retries a failed refund: refund_failed → refunding with the SAME out_refund_no."""
    with transaction.atomic():
        order = _locked(order)
        refund = (
            order.refunds.select_for_update()
            .exclude(status=Refund.Status.SUCCEEDED)
            .order_by("-created_at")
            .first()
        )
        if refund is None:
            raise CampusPassError("该订单没有可重试的退款。", code="no_refund")
        refund.status = Refund.Status.PENDING
        refund.last_error = ""
        refund.save(update_fields=["status", "last_error"])
        _move(
            order,
            S.REFUNDING,
            acting_user=acting_user,
            action="renewals.refund.retried",
            data={"out_refund_no": refund.out_refund_no, "amount_fen": refund.amount_fen},
        )
        _enqueue_submit(refund)
    return refund


def refund_mark_submitted(*, refund_id: int, refund_id_on_platform: str, platform_status: str) -> Refund:
    """The platform accepted the request (PROCESSING); the final state comes later."""
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        refund.attempts += 1
        if refund.status in (Refund.Status.PENDING, Refund.Status.PROCESSING):
            refund.status = Refund.Status.PROCESSING
        refund.refund_id = refund_id_on_platform or refund.refund_id
        refund.platform_status = platform_status
        refund.save(update_fields=["attempts", "status", "refund_id", "platform_status"])
    return refund


def refund_apply_result(
    *,
    out_refund_no: str,
    succeeded: bool,
    platform_status: str,
    refund_id_on_platform: str = "",
    amount_fen: int | None = None,
    error: str = "",
    source: str,
) -> tuple[Refund, bool]:
    """The final state from a notification, a query or a refused request. Returns (refund, changed);
    applying the same result twice is a no-op. Raises Refund.DoesNotExist for an unknown number."""
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(out_refund_no=out_refund_no)
        order = _locked(refund.order_id)
        if refund.status in (Refund.Status.SUCCEEDED,) or (
            refund.status == Refund.Status.FAILED and not succeeded
        ):
            return refund, False
        if succeeded and amount_fen is not None and amount_fen != refund.amount_fen:
            log_action(
                actor=None,
                action="renewals.refund.amount_mismatch",
                obj=order,
                data={
                    "out_refund_no": out_refund_no,
                    "expected_fen": refund.amount_fen,
                    "reported_fen": amount_fen,
                },
                plate=order.plate,
                staff_no=order.staff.staff_no,
            )
            succeeded = False
            error = error or "退款金额与申请金额不符"
        refund.status = Refund.Status.SUCCEEDED if succeeded else Refund.Status.FAILED
        refund.platform_status = platform_status
        refund.refund_id = refund_id_on_platform or refund.refund_id
        refund.last_error = error[:300]
        refund.finished_at = timezone.now() if succeeded else None
        refund.save(update_fields=["status", "platform_status", "refund_id", "last_error", "finished_at"])
        if succeeded and order.status == S.REFUND_FAILED:
            # The platform paid after all (a late notification or query): record it truthfully.
            _move(
                order,
                S.REFUNDING,
                acting_user=None,
                action="renewals.refund.reopened",
                reason="支付平台确认退款成功",
                data={"out_refund_no": out_refund_no, "source": source},
            )
        if order.status == S.REFUNDING:
            target = S.REFUNDED if succeeded else S.REFUND_FAILED
            _move(
                order,
                target,
                acting_user=None,
                action="renewals.refund.succeeded" if succeeded else "renewals.refund.failed",
                reason=error,
                data={"out_refund_no": out_refund_no, "platform_status": platform_status, "source": source},
            )
            if succeeded:
                notify.order_refunded(order, refund.amount_fen)
    return refund, True


# Platform error codes that are a final "no" for this refund (anything else — a network error,
# SYSTEM_ERROR, FREQUENCY_LIMITED — may have reached the platform: keep it and ask again later).
QUERY_REFUND_AFTER = dt.timedelta(minutes=5)
FINAL_STATES = frozenset({"SUCCESS", "ABNORMAL", "CLOSED"})


def refund_record_error(*, refund_id: int, error: str) -> Refund:
    """A submission that may or may not have reached the platform: keep the refund pending (the
    same out_refund_no is sent again by `check_refunds`)."""
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        refund.attempts += 1
        refund.last_error = error[:300]
        refund.save(update_fields=["attempts", "last_error"])
    return refund


def refund_submit(*, refund_id: int) -> Refund:
    """Send a pending refund to the platform with its stored out_refund_no (never a new one)."""
    from campuspass.payments.errors import decide
    from campuspass.payments.providers import PaymentProviderError, get_provider

    from .payments import notify_url

    refund = Refund.objects.select_related("order").get(pk=refund_id)
    if refund.status != Refund.Status.PENDING:
        return refund
    order = refund.order
    try:
        state = get_provider().refund(
            out_trade_no=order.out_trade_no,
            out_refund_no=refund.out_refund_no,
            amount_fen=refund.amount_fen,
            total_fen=order.paid_amount_fen,
            reason=refund.reason,
            notify_url=notify_url("refund"),
        )
    except PaymentProviderError as exc:
        if not decide("refund", exc.code).retry:  # the one table (campuspass.payments.errors)
            Refund.objects.filter(pk=refund.pk).update(attempts=F("attempts") + 1)
            refund, _ = refund_apply_result(
                out_refund_no=refund.out_refund_no,
                succeeded=False,
                platform_status=exc.code,
                error=exc.message,
                source="refund_request",
            )
            return refund
        return refund_record_error(refund_id=refund.pk, error=f"{exc.code}: {exc.message}")
    if state.status in FINAL_STATES:
        refund_mark_submitted(
            refund_id=refund.pk, refund_id_on_platform=state.refund_id, platform_status=state.status
        )
        return _apply_final_state(refund, state, source="refund_request")
    return refund_mark_submitted(
        refund_id=refund.pk, refund_id_on_platform=state.refund_id, platform_status=state.status
    )


def refund_sync(*, refund_id: int) -> Refund:
    """Ask the platform about a refund in progress and apply a final state."""
    from campuspass.payments.providers import PaymentProviderError, get_provider

    refund = Refund.objects.get(pk=refund_id)
    if refund.status != Refund.Status.PROCESSING:
        return refund
    try:
        state = get_provider().query_refund(refund.out_refund_no)
    except PaymentProviderError as exc:
        return refund_record_error(refund_id=refund.pk, error=f"查询失败 {exc.code}: {exc.message}")
    if state.status not in FINAL_STATES:
        return refund
    return _apply_final_state(refund, state, source="query")


def _apply_final_state(refund: Refund, state, *, source: str) -> Refund:
    """The platform's final answer (SUCCESS / ABNORMAL / CLOSED) for `refund`, applied once."""
    refund, _ = refund_apply_result(
        out_refund_no=refund.out_refund_no,
        succeeded=state.status == "SUCCESS",
        platform_status=state.status,
        refund_id_on_platform=state.refund_id,
        amount_fen=state.amount_fen,
        error="" if state.status == "SUCCESS" else f"支付平台退款状态：{state.status}",
        source=source,
    )
    return refund


def check_refunds(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Scheduled: resend refunds whose submission failed on the way; query those the platform has
    been processing for a while (the notification may never come)."""
    now = now or timezone.now()
    counts = {"resent": 0, "queried": 0}
    for pk in Refund.objects.filter(status=Refund.Status.PENDING, order__status=S.REFUNDING).values_list(
        "pk", flat=True
    ):
        refund_submit(refund_id=pk)
        counts["resent"] += 1
    for pk in Refund.objects.filter(
        status=Refund.Status.PROCESSING, created_at__lte=now - QUERY_REFUND_AFTER
    ).values_list("pk", flat=True):
        refund_sync(refund_id=pk)
        counts["queried"] += 1
    return counts


def refund_at_counter(*, order: RenewalOrder, acting_user: Any, note: str) -> Refund:
    """An order paid in cash or by card at the counter is refunded there: rejected → refunding →
    refunded in one step, recorded with who paid the money back and the note (e.g. the voucher
    number). Raises CampusPassError or TransitionNotAllowed."""
    note = " ".join((note or "").split())
    if not note:
        raise CampusPassError("请填写退款凭证号或说明（如现金退款收据号），以便对账。", code="note_required")
    with transaction.atomic():
        order = _locked(order)
        if order.payment_method not in ("cash", "card"):
            raise CampusPassError(
                "该订单通过微信支付，请使用“代为申请退款”原路退回。", code="not_counter_paid"
            )
        check_transition(order.status, S.REFUNDING)
        amount = order.paid_amount_fen - refunded_total(order)
        if amount <= 0:
            raise CampusPassError("该订单已全额退款。", code="nothing_to_refund")
        now = timezone.now()
        refund = Refund.objects.create(
            order=order,
            out_refund_no=f"CT{order.out_trade_no[2:]}{secrets.token_hex(2).upper()}"[:64],
            amount_fen=amount,
            status=Refund.Status.SUCCEEDED,
            platform_status="COUNTER",
            reason=note[:80],
            attempts=1,
            requested_by=acting_user if getattr(acting_user, "is_authenticated", False) else None,
            finished_at=now,
        )
        data = {"out_refund_no": refund.out_refund_no, "amount_fen": amount, "method": order.payment_method}
        _move(
            order,
            S.REFUNDING,
            acting_user=acting_user,
            action="renewals.refund.requested",
            reason=note,
            data=data,
        )
        _move(
            order,
            S.REFUNDED,
            acting_user=acting_user,
            action="renewals.refund.succeeded",
            reason=note,
            data=data,
        )
        notify.order_refunded(order, amount)
    return refund
