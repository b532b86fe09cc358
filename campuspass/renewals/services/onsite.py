"""The on-site desk ("现场办理"): renewals and new passes done at the counter, paid in cash or by card
terminal with a receipt number. Same rules as the online flow except the online-only ones (local
plate prefix, the campaign window, the ID photo: the clerk sees the card)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from campuspass.core.errors import CampusPassError
from campuspass.registry import services as registry
from campuspass.registry.models import Pass, Staff, Vehicle

from ..models import Campaign, RenewalOrder
from ..transitions import check_transition
from .ledger import check_receipt_unused, payment_record, payment_record_sale
from .orders import _check_fulfilment, _next_pass_number, lock_order, log_created, new_order

S = RenewalOrder.Status

COUNTER_METHODS = {"cash": "现金", "card": "刷卡"}
RECEIPT_MAX = 64


def clean_receipt_no(value: Any) -> str:
    """The receipt number as printed on the counter's receipt. Raises CampusPassError."""
    text = "".join(str(value or "").split())
    if not text:
        raise CampusPassError("请填写收据号（现场缴费收据上的编号）。", code="receipt_required")
    if len(text) > RECEIPT_MAX:
        raise CampusPassError(f"收据号最多 {RECEIPT_MAX} 个字符，请核对后重新填写。", code="receipt_too_long")
    return text


def _check_receipt_unused(receipt_no: str) -> None:
    """Receipt numbers are unique in the ledger (orders and new passes alike)."""
    check_receipt_unused(receipt_no)


def is_onsite_order(order: RenewalOrder) -> bool:
    """Orders created at the counter (the clerk saw the card: no ID photo)."""
    return order.channel == RenewalOrder.Channel.ONSITE


def order_create_onsite(
    *,
    previous_pass: Pass,
    campaign: Campaign,
    acting_user: Any,
    fulfilment: str = RenewalOrder.Fulfilment.PICKUP,
    delivery_address: str = "",
) -> RenewalOrder:
    """A renewal order created at the counter for any plate prefix and outside the window; an unpaid
    counter order of the same pass is returned instead of a second one. Raises CampusPassError."""
    fulfilment, delivery_address = _check_fulfilment(fulfilment, delivery_address)
    with transaction.atomic():
        # Lock the pass so a counter order and an online submit of the same plate queue here.
        previous = (
            Pass.objects.select_for_update().select_related("holder", "vehicle").get(pk=previous_pass.pk)
        )
        if previous.year != campaign.previous_year:
            raise CampusPassError(
                f"只能续办 {campaign.previous_year} 年度的通行证，这张是 {previous.year} 年度的。"
                "新车或新入职职工请用“办理新证”。",
                code="wrong_year",
            )
        if previous.holder.status != Staff.Status.ACTIVE:
            raise CampusPassError(
                f"持证人 {previous.holder.name} 的人员状态为“{previous.holder.get_status_display()}”，"
                "只有在职职工可以续办。如人员状态有误，请先在职工信息中修改（需填写原因）。",
                code="not_in_service",
            )
        if previous.review_status != Pass.ReviewStatus.APPROVED:
            raise CampusPassError(
                f"这张通行证的审核状态为“{previous.get_review_status_display()}”，只能续办审核通过的通行证。",
                code="previous_not_approved",
            )
        existing = (
            RenewalOrder.objects.filter(
                previous_pass=previous, campaign=campaign, status__in=RenewalOrder.OPEN_STATUSES
            )
            .select_related("staff", "campaign")
            .first()
        )
        if existing is not None:
            if existing.status == S.PENDING_PAYMENT and is_onsite_order(existing):
                return existing
            raise CampusPassError(_open_order_message(existing), code="order_exists")
        order = new_order(
            previous=previous,
            campaign=campaign,
            fulfilment=fulfilment,
            delivery_address=delivery_address,
            channel=RenewalOrder.Channel.ONSITE,
        )
        # The clerk explains the terms at the desk: a counter order waits for payment at once.
        order.status = S.PENDING_PAYMENT
        try:
            with transaction.atomic():
                order.save()
        except IntegrityError:
            # The one-open-order constraint caught an online submit that won the race.
            raise CampusPassError(
                "该车辆刚刚提交了线上续费订单，请刷新页面查看后再办理。", code="order_exists"
            ) from None
        log_created(order, acting_user=acting_user)
    return order


def _open_order_message(order: RenewalOrder) -> str:
    if order.status in RenewalOrder.UNPAID_STATUSES:
        return (
            f"该车辆已有 {order.campaign.year} 年度待支付的线上订单（{order.out_trade_no}）。"
            f"请职工在手机上完成支付，或等订单超时关闭（{order.campaign.unpaid_timeout_minutes} 分钟）后再现场办理，"
            "以免重复收费。"
        )
    return (
        f"该车辆已有 {order.campaign.year} 年度的续费订单（{order.out_trade_no}，{order.status_label}），"
        "无需重复办理。"
    )


def order_mark_paid_onsite(
    *, order: RenewalOrder, acting_user: Any, method: str, receipt_no: str
) -> RenewalOrder:
    """Record that the order was paid at the counter (cash or card terminal) with its receipt number:
    pending_payment → paid. Raises CampusPassError or TransitionNotAllowed."""
    if method not in COUNTER_METHODS:
        raise CampusPassError("请选择缴费方式：现金或刷卡。", code="method")
    receipt_no = clean_receipt_no(receipt_no)
    with transaction.atomic():
        order = lock_order(order)
        if order.channel != RenewalOrder.Channel.ONSITE:
            # An online order may still be paid on WeChat Pay at any moment: taking cash for it too
            # could take the money twice.
            raise CampusPassError(
                "这是职工在手机上提交的线上订单，请职工在手机上完成支付；如需在窗口缴费，请待该订单超时关闭后在窗口重新办理。",
                code="not_onsite_order",
            )
        check_transition(order.status, S.PAID)
        payment_record(
            order=order,
            method=method,
            reference=receipt_no,
            amount_fen=order.amount_fen,
            acting_user=acting_user,
            source="counter",
        )
    return order


def onsite_renewal(
    *,
    previous_pass: Pass,
    campaign: Campaign,
    acting_user: Any,
    method: str,
    receipt_no: str,
    fulfilment: str = RenewalOrder.Fulfilment.PICKUP,
    delivery_address: str = "",
) -> RenewalOrder:
    """Create the counter order and record its payment in one step (the clerk has the money in hand);
    the order then waits for review like an online one. Raises CampusPassError."""
    receipt_no = clean_receipt_no(receipt_no)
    with transaction.atomic():
        _check_receipt_unused(receipt_no)
        order = order_create_onsite(
            previous_pass=previous_pass,
            campaign=campaign,
            acting_user=acting_user,
            fulfilment=fulfilment,
            delivery_address=delivery_address,
        )
        return order_mark_paid_onsite(
            order=order, acting_user=acting_user, method=method, receipt_no=receipt_no
        )


def onsite_pass_issue(
    *,
    campaign: Campaign,
    vehicle: Vehicle,
    holder: Staff,
    acting_user: Any,
    method: str,
    receipt_no: str,
    reason: str,
) -> Pass:
    """A new pass of the campaign's year for a new car or new staff without a previous pass, paid at
    the counter; its number is the campaign's next one. Raises CampusPassError."""
    if method not in COUNTER_METHODS:
        raise CampusPassError("请选择缴费方式：现金或刷卡。", code="method")
    receipt_no = clean_receipt_no(receipt_no)
    reason = " ".join((reason or "").split())
    if not reason:
        raise CampusPassError("请填写办理原因（如：新入职、新购车辆）。", code="reason_required")
    with transaction.atomic():
        _check_receipt_unused(receipt_no)
        holder = Staff.objects.select_for_update().get(pk=holder.pk)
        if holder.status != Staff.Status.ACTIVE:
            raise CampusPassError(
                f"{holder.name} 的人员状态为“{holder.get_status_display()}”，只有在职职工可以办理通行证。",
                code="not_in_service",
            )
        if Pass.objects.filter(year=campaign.year, vehicle=vehicle).exists():
            raise CampusPassError(
                f"车辆 {vehicle.plate} 已有 {campaign.year} 年度的通行证，无需重复办理。", code="duplicate"
            )
        if Pass.objects.filter(
            year=campaign.previous_year, vehicle=vehicle, review_status=Pass.ReviewStatus.APPROVED
        ).exists():
            raise CampusPassError(
                f"车辆 {vehicle.plate} 有 {campaign.previous_year} 年度审核通过的通行证，请用“现场续费”办理。",
                code="has_previous_pass",
            )
        open_order = RenewalOrder.objects.filter(
            campaign=campaign, vehicle=vehicle, status__in=RenewalOrder.OPEN_STATUSES
        ).first()
        if open_order is not None:
            raise CampusPassError(_open_order_message(open_order), code="order_exists")
        new_pass = registry.pass_create(
            year=campaign.year,
            number=_next_pass_number(campaign),
            vehicle=vehicle,
            holder=holder,
            review_status=Pass.ReviewStatus.APPROVED,
            valid_from=campaign.valid_from,
            valid_to=campaign.valid_to,
            source=Pass.Source.ONSITE,
            acting_user=acting_user,
            reason=(
                f"现场办理新证：{reason}；现场缴费 {campaign.price_yuan} 元"
                f"（{COUNTER_METHODS[method]}，收据号 {receipt_no}）"
            ),
        )
        payment_record_sale(
            campaign=campaign,
            new_pass=new_pass,
            method=method,
            receipt_no=receipt_no,
            acting_user=acting_user,
            note=reason,
        )
        return new_pass


def onsite_refund_note(order: RenewalOrder) -> str:
    """The sentence to show instead of an online refund for an order paid at the counter ("" for
    orders paid through WeChat Pay)."""
    from .refunds import order_refund_route

    route = order_refund_route(order)
    if route is not None and not route.online:
        return route.staff_text
    return ""


def staff_phone_reveal(*, staff: Staff, acting_user: Any, where: str = "onsite.staff") -> str:
    """ "显示完整号码" at the on-site desk: `registry.services.reveal_phone` (audited)."""
    from campuspass.registry.services import reveal_phone

    return reveal_phone(staff=staff, acting_user=acting_user, where=where)
