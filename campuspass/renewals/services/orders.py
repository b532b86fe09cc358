"""Every state change of a renewal order. One shape for all of them (architecture.md):
atomic; the order row locked; the move checked against transitions.py; save(update_fields);
an audit entry; SMS and tasks only after commit."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from campuspass.core.audit import log_action
from campuspass.core.errors import CampusPassError
from campuspass.core.fieldrules import parse_int
from campuspass.registry.models import Pass
from campuspass.verification import documents
from campuspass.verification.models import IdPhoto

from ..models import Campaign, ConsentRecord, ConsentVersion, Payment, RenewalOrder, validity_of
from ..selectors import renewal_eligibility
from ..transitions import FULFILMENT, ORDER, VALIDITY, can_transition, check_transition, lock, move
from ..workdays import pickup_date
from . import notify

S = RenewalOrder.Status


class NotEligible(CampusPassError):
    def __init__(self, message: str, code: str):
        super().__init__(message, code=code)


class PaymentMismatch(CampusPassError):
    """A payment whose amount or order does not match ours: never applied."""


def lock_order(order: RenewalOrder | int) -> RenewalOrder:
    """The order row locked (only that row) with its staff and campaign read alongside."""
    return lock(RenewalOrder, order.pk if isinstance(order, RenewalOrder) else order)


def move_order(
    order: RenewalOrder,
    target: str,
    *,
    acting_user: Any,
    action: str,
    reason: str = "",
    fields: tuple[str, ...] = (),
    data: dict | None = None,
    audit_before: tuple = (),
) -> None:
    """One status move of a locked order through the ORDER table (`transitions.move`)."""
    move(
        order,
        target,
        axis=ORDER,
        acting_user=acting_user,
        action=action,
        reason=reason,
        fields=fields,
        data=data,
        audit_before=audit_before,
    )


def new_out_trade_no(campaign: Campaign) -> str:
    # WeChat Pay: 6–32 characters of letters and digits, unique per merchant.
    return f"CP{campaign.year}{timezone.now():%m%d%H%M%S}{secrets.token_hex(5).upper()}"


def order_create(
    *,
    plate: str,
    campaign: Campaign,
    id_photo: IdPhoto | str,
    fulfilment: str = RenewalOrder.Fulfilment.PICKUP,
    delivery_address: str = "",
    acting_user: Any = None,
) -> RenewalOrder:
    """Submit a renewal ("提交订单") with the ID photo (an ``IdPhoto`` or its key) uploaded under this
    plate. Submitting again while an unpaid order exists returns that order instead of a second
    one. Raises NotEligible (with the staff member's sentence) or CampusPassError (``photo_*``)."""
    fulfilment, delivery_address = _check_fulfilment(fulfilment, delivery_address)
    if not id_photo:
        raise CampusPassError("请先上传工作证（校园一卡通）照片，再提交订单。", code="photo_required")
    with transaction.atomic():
        # The pass locked so two submits of the same plate queue here instead of racing; the checks
        # and the open order (at most one: a constraint) are read under that lock, once.
        eligibility = renewal_eligibility(plate=plate, campaign=campaign, lock=True)
        if not eligibility.ok:
            raise NotEligible(eligibility.message, eligibility.code)
        previous = eligibility.previous_pass
        existing = eligibility.open_order
        if existing is not None:
            return _resubmitted(
                existing, id_photo=id_photo, fulfilment=fulfilment, delivery_address=delivery_address
            )
        order = new_order(
            previous=previous,
            campaign=campaign,
            fulfilment=fulfilment,
            delivery_address=delivery_address,
        )
        try:
            with transaction.atomic():
                # Only a photo uploaded under this plate, used by no other order (photo service).
                order.id_photo = documents.attach(id_photo, plate=order.plate)
                order.save()
        except IntegrityError:
            # The database constraint caught a concurrent submit that got past the lock (SQLite has
            # no row locks): return the order that won.
            return RenewalOrder.objects.select_related("staff", "campaign").get(
                previous_pass=previous, campaign=campaign, status__in=RenewalOrder.OPEN_STATUSES
            )
        log_created(order, acting_user=acting_user)
    return order


def new_order(
    *,
    previous: Pass,
    campaign: Campaign,
    fulfilment: str,
    delivery_address: str,
    channel: str = RenewalOrder.Channel.ONLINE,
) -> RenewalOrder:
    """An unsaved renewal order of `previous` in `campaign` (online and at the counter alike)."""
    return RenewalOrder(
        campaign=campaign,
        previous_pass=previous,
        staff=previous.holder,
        vehicle=previous.vehicle,
        plate=previous.vehicle.plate,
        amount_fen=campaign.price_fen,
        out_trade_no=new_out_trade_no(campaign),
        fulfilment=fulfilment,
        delivery_address=delivery_address,
        channel=channel,
    )


def log_created(order: RenewalOrder, *, acting_user: Any) -> None:
    data = {
        "amount_fen": order.amount_fen,
        "out_trade_no": order.out_trade_no,
        "fulfilment": order.fulfilment,
    }
    if order.channel != RenewalOrder.Channel.ONLINE:
        data["channel"] = order.channel
    log_action(
        actor=acting_user,
        action="renewals.order.created",
        obj=order,
        data=data,
        plate=order.plate,
        staff_no=order.staff.staff_no,
    )


def _resubmitted(
    existing: RenewalOrder, *, id_photo: IdPhoto | str, fulfilment: str, delivery_address: str
) -> RenewalOrder:
    """Submitting again while the order is unpaid and not yet agreed to continues that order with
    what the staff member confirmed this time (a new photo, another fulfilment): otherwise the
    confirmation page would show one thing and the order keep another. Once agreed to or paid,
    the order stays as it was."""
    order = lock_order(existing)
    if order.status != S.AWAITING_CONSENT or order.channel != RenewalOrder.Channel.ONLINE:
        return order
    key = id_photo.key if isinstance(id_photo, IdPhoto) else id_photo
    old_photo = order.id_photo
    photo_replaced = old_photo is None or old_photo.key != key
    wanted = {"fulfilment": fulfilment, "delivery_address": delivery_address}
    changes = {
        name: [getattr(order, name), value] for name, value in wanted.items() if getattr(order, name) != value
    }
    if not changes and not photo_replaced:
        return order
    if photo_replaced:
        order.id_photo = documents.attach(id_photo, plate=order.plate)
    for name, value in wanted.items():
        setattr(order, name, value)
    order.save(update_fields=[*changes, *(["id_photo"] if photo_replaced else []), "updated_at"])
    log_action(
        actor=None,
        action="renewals.order.resubmitted",
        obj=order,
        # The photo names are storage keys, not for the log: record only that it changed.
        data={"changes": changes, "photo_replaced": photo_replaced},
        plate=order.plate,
        staff_no=order.staff.staff_no,
    )
    if photo_replaced:
        documents.release(old_photo)  # the file goes once this commits
    return order


def _check_fulfilment(fulfilment: str, address: str) -> tuple[str, str]:
    if fulfilment not in RenewalOrder.Fulfilment.values:
        raise CampusPassError("请选择领取方式：到保卫处领取或送证上门。", code="fulfilment")
    address = " ".join((address or "").split())
    if fulfilment == RenewalOrder.Fulfilment.DELIVERY:
        if len(address) < 4:
            raise CampusPassError(
                "选择送证上门时，请填写校内详细地址（楼号、楼层、房间号）。", code="address_required"
            )
        if len(address) > 200:
            raise CampusPassError("校内详细地址最多 200 个字，请精简后重新填写。", code="address_too_long")
        return fulfilment, address
    return fulfilment, ""


def order_set_fulfilment(
    *, order: RenewalOrder, fulfilment: str, delivery_address: str = "", acting_user: Any = None
):
    """Change pickup ↔ delivery; allowed until the pass is handed out. On an approved order the switch
    is a move of the FULFILMENT axis (待领取 ↔ 待送证; 配送中 → 待领取 releases the courier).
    Raises CampusPassError."""
    fulfilment, delivery_address = _check_fulfilment(fulfilment, delivery_address)
    with transaction.atomic():
        order = lock_order(order)
        if order.status not in RenewalOrder.OPEN_STATUSES or order.handed_over:
            raise CampusPassError("该订单已发放或已结束，不能再修改领取方式。", code="fulfilment_locked")
        if (order.fulfilment, order.delivery_address) == (fulfilment, delivery_address):
            return order
        before = [order.fulfilment, order.delivery_address]
        order.fulfilment, order.delivery_address = fulfilment, delivery_address
        data = {
            "changes": {
                "fulfilment": [before[0], fulfilment],
                "delivery_address": [before[1], delivery_address],
            }
        }
        target = handover_for(fulfilment)
        if order.status == S.APPROVED and before[0] != fulfilment and order.fulfilment_status != target:
            if order.courier_id and target == RenewalOrder.Handover.TO_COLLECT:
                data["courier"] = order.courier.get_username()
                order.courier, order.courier_assigned_at = None, None
            move(
                order,
                target,
                axis=FULFILMENT,
                acting_user=acting_user,
                action="renewals.order.fulfilment_changed",
                fields=("fulfilment", "delivery_address", "courier", "courier_assigned_at"),
                data=data,
            )
            return order
        order.save(update_fields=["fulfilment", "delivery_address", "updated_at"])
        log_action(
            actor=acting_user,
            action="renewals.order.fulfilment_changed",
            obj=order,
            data=data,
            plate=order.plate,
            staff_no=order.staff.staff_no,
        )
    return order


def handover_for(fulfilment: str) -> str:
    """Where an approved pass starts: 待送证 for a delivery, 待领取 at the counter otherwise."""
    if fulfilment == RenewalOrder.Fulfilment.DELIVERY:
        return RenewalOrder.Handover.TO_DELIVER
    return RenewalOrder.Handover.TO_COLLECT


def order_record_consent(
    *, order: RenewalOrder, consent_version: ConsentVersion, ip_address: str | None, user_agent: str
) -> ConsentRecord:
    """ "同意": record who agreed to which version, when and from which device. Raises CampusPassError."""
    with transaction.atomic():
        order = lock_order(order)
        if order.status != S.AWAITING_CONSENT:
            # Agreed once, the order left 待同意 (no way leads back): only then can a record exist.
            existing = ConsentRecord.objects.filter(order=order).first()
            if existing is not None:
                return existing  # a second tap or tab: the first agreement stands
            raise CampusPassError("该订单已不是待支付状态，无需再同意知情同意书。", code="consent_not_needed")
        if consent_version.campaign_id != order.campaign_id:
            raise CampusPassError("知情同意书版本与订单不符，请刷新页面后重试。", code="consent_mismatch")
        record = ConsentRecord.objects.create(
            order=order,
            consent_version=consent_version,
            text_sha256=consent_version.sha256,
            ip_address=ip_address,
            user_agent=(user_agent or "")[:300],
        )
        move_order(
            order,
            S.PENDING_PAYMENT,
            acting_user=None,
            action="renewals.order.consent_given",
            data={"consent_version": consent_version.version, "sha256": consent_version.sha256},
        )
    return record


def order_mark_paid(
    *,
    out_trade_no: str,
    transaction_id: str,
    amount_fen: int,
    paid_at: dt.datetime | None = None,
    payer_openid: str = "",
    method: str = Payment.Method.WECHAT,
    acting_user: Any = None,
    source: str,
    locked: RenewalOrder | None = None,
) -> tuple[RenewalOrder, bool]:
    """Apply a confirmed WeChat payment (notification or query) through the ledger. Returns
    (order, changed); a payment already recorded is a no-op. Money the order cannot take (it is
    closed, or already paid by another payment) is recorded too, as UNCLAIMED, for finance to give
    back (`services.refunds`). Raises PaymentMismatch for a wrong amount or an unknown order.
    `locked`: the order, when the caller has already locked it in its transaction (the payment
    notification does, to check the notice against it): it is not read a second time."""
    from .ledger import payment_record

    with transaction.atomic():
        if locked is not None and locked.out_trade_no == out_trade_no:
            order = locked
        else:
            try:
                order = lock(RenewalOrder, None, out_trade_no=out_trade_no)
            except RenewalOrder.DoesNotExist:
                raise PaymentMismatch(f"找不到商户订单号 {out_trade_no}。", code="unknown_order") from None
        # One read of the ledger answers both questions: is this payment recorded already, and has
        # the order taken another one (issue 13: the notification's path read it twice).
        seen = Payment.objects.filter(order=order, state=Payment.State.APPLIED)
        if transaction_id:
            seen = seen | Payment.objects.filter(method=method, reference=transaction_id)
        prior = list(seen.values_list("method", "reference", "order_id", "state")[:10])
        if transaction_id and any(m == method and r == transaction_id for m, r, _, _ in prior):
            return order, False
        order_has_payment = any(o == order.pk and st == Payment.State.APPLIED for _, _, o, st in prior)
        if amount_fen != order.amount_fen:
            log_action(
                actor=acting_user,
                action="renewals.order.payment_mismatch",
                obj=order,
                data={"expected_fen": order.amount_fen, "paid_fen": amount_fen, "source": source},
                plate=order.plate,
                staff_no=order.staff.staff_no,
            )
            raise PaymentMismatch("支付金额与订单金额不符，未入账。", code="amount_mismatch")
        payment = payment_record(
            order=order,
            method=method,
            reference=transaction_id,
            amount_fen=amount_fen,
            paid_at=paid_at,
            payer_openid=payer_openid,
            acting_user=acting_user,
            source=source,
            order_has_payment=order_has_payment,
        )
        changed = payment.state == Payment.State.APPLIED
    return order, changed


def order_pay(
    *, order: RenewalOrder, payment: Payment, acting_user: Any, source: str, audit_before: tuple = ()
) -> None:
    """pending_payment → paid because `payment` (already in the ledger, applied to this locked
    order) says so. Called by the ledger only (`audit_before`: its entry for the payment, written
    with this move's in one INSERT)."""
    order.paid_at = payment.paid_at
    move_order(
        order,
        S.PAID,
        acting_user=acting_user,
        action="renewals.order.paid",
        fields=("paid_at",),
        data={
            "payment": payment.pk,
            "method": payment.method,
            "reference": payment.reference,
            "amount_fen": payment.amount_fen,
            "source": source,
        },
        audit_before=audit_before,
    )


def order_close(*, order: RenewalOrder, acting_user: Any = None, reason: str) -> RenewalOrder:
    """Close an unpaid order (timeout or cancel). The caller must have queried the provider first."""
    with transaction.atomic():
        order = lock_order(order)
        order.closed_at = timezone.now()
        move_order(
            order,
            S.CLOSED,
            acting_user=acting_user,
            action="renewals.order.closed",
            reason=reason,
            fields=("closed_at",),
        )
        _photo_retention(order, ended=order.closed_at)
    return order


def _photo_retention(order: RenewalOrder, *, ended: dt.datetime) -> None:
    """Decided or closed: the photo is kept the campaign's retention days from now, then deleted by
    the daily job (``verification.documents.expire_due``)."""
    if order.id_photo_id:
        documents.retain(order.id_photo, until=ended + dt.timedelta(days=order.campaign.photo_retention_days))


def validity_for(campaign: Campaign, today: dt.date) -> str:
    """The validity a pass of `campaign` has on `today` (its new passes carry the campaign's dates)."""
    return validity_of(campaign.valid_from, campaign.valid_to, today)


def _next_pass_number(campaign: Campaign) -> str:
    """The next free pass number of the campaign's year: prefix, year and a serial of at least five
    digits. Locks the campaign row (FOR NO KEY UPDATE, so rows that only refer to the campaign — a
    payment being recorded — never wait): one number at a time per year, until the caller's
    transaction ends.

    The campaign remembers the last number it issued, so a number costs a read of one pass by key
    (the serial after the last), not a read of every number of the year — 275,000 of them by the end
    of a week at the benchmark's size (issue 13). Without a remembered number (a new campaign, the
    prefix changed since) or when the next one is taken (an import of this year's passes with the
    same prefix, an edit), the year's numbers are read once and the number goes above all of them,
    as before."""
    locked = Campaign.objects.select_for_update(no_key=True).only("last_pass_number").get(pk=campaign.pk)
    prefix = f"{campaign.pass_number_prefix}{campaign.year}"
    last = locked.last_pass_number
    serial = parse_int(last[len(prefix) :]) if last.startswith(prefix) else None
    taken = Pass.objects.filter(year=campaign.year)
    if serial is not None and not taken.filter(number=f"{prefix}{serial + 1:05d}").exists():
        number = f"{prefix}{serial + 1:05d}"
    else:
        # No number remembered, or the next one was taken meanwhile (this year's passes imported
        # with the same prefix, an edit): above every number of the year, as before — read once,
        # then remembered again.
        numbers = taken.filter(number__startswith=prefix).values_list("number", flat=True)
        highest = max((parse_int(n[len(prefix) :]) or 0 for n in numbers), default=0)
        number = f"{prefix}{highest + 1:05d}"
    Campaign.objects.filter(pk=campaign.pk).update(last_pass_number=number)
    campaign.last_pass_number = number
    return number


def order_approve(*, order: RenewalOrder, acting_user: Any) -> RenewalOrder:
    """ "审核通过": create the new year's pass, compute 待生效/使用中 and the pickup date, tell the staff
    member by SMS. Raises TransitionNotAllowed."""
    with transaction.atomic():
        order = lock_order(order)
        check_transition(order.status, S.APPROVED)
        campaign = order.campaign
        today = timezone.localdate()
        new_pass = Pass.objects.create(
            year=campaign.year,
            number=_next_pass_number(campaign),
            vehicle_id=order.vehicle_id,
            holder_id=order.staff_id,
            review_status=Pass.ReviewStatus.APPROVED,
            valid_from=campaign.valid_from,
            valid_to=campaign.valid_to,
            source=Pass.Source.RENEWAL,
        )
        log_action(
            actor=acting_user,
            action="registry.pass.created",
            obj=new_pass,
            reason=f"续费订单 {order.out_trade_no} 审核通过",
            data={"order": order.pk},
            plate=order.plate,
            staff_no=order.staff.staff_no,
        )
        order.new_pass = new_pass
        validity = validity_of(new_pass.valid_from, new_pass.valid_to, today)
        order.decided_at = timezone.now()
        order.decided_by = acting_user if getattr(acting_user, "is_authenticated", False) else None
        order.pickup_from = pickup_date(
            timezone.localtime(),
            printing_days=campaign.pickup_delay_working_days,
            cutoff=campaign.print_cutoff,
        )
        move_order(
            order,
            S.APPROVED,
            acting_user=acting_user,
            action="renewals.order.approved",
            fields=("new_pass", "decided_at", "decided_by", "pickup_from"),
            data={
                "new_pass": new_pass.number,
                "validity": validity,
                "pickup_from": order.pickup_from.isoformat(),
            },
        )
        _photo_retention(order, ended=order.decided_at)
        # The two other axes of an approved order start here, each with its own move and entry.
        move(
            order,
            validity,
            axis=VALIDITY,
            acting_user=acting_user,
            action="renewals.order.validity_changed",
            data={"new_pass": new_pass.number},
        )
        move(
            order,
            handover_for(order.fulfilment),
            axis=FULFILMENT,
            acting_user=acting_user,
            action="renewals.order.handover_pending",
            data={"fulfilment": order.fulfilment, "pickup_from": order.pickup_from.isoformat()},
        )
        notify.order_approved(order)
    return order


def order_reject(*, order: RenewalOrder, acting_user: Any, reason: str) -> RenewalOrder:
    """ "审核不通过" with a reason; the staff member is told how to get the refund. With the campaign's
    automatic refund on, the refund is requested at once. Raises CampusPassError."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise CampusPassError("请选择或填写不通过的原因，职工会在短信中看到它。", code="reason_required")
    if len(reason) > 300:
        raise CampusPassError("不通过原因最多 300 个字。", code="reason_too_long")
    with transaction.atomic():
        order = lock_order(order)
        order.reject_reason = reason
        order.decided_at = timezone.now()
        order.decided_by = acting_user if getattr(acting_user, "is_authenticated", False) else None
        move_order(
            order,
            S.REJECTED,
            acting_user=acting_user,
            action="renewals.order.rejected",
            reason=reason,
            fields=("reject_reason", "decided_at", "decided_by"),
        )
        _photo_retention(order, ended=order.decided_at)
        notify.order_rejected(order)
        if order.campaign.auto_refund_on_reject:
            from .refunds import refund_request

            refund_request(order=order, acting_user=acting_user, reason="审核未通过自动退款")
    return order


def order_update_validity(*, today: dt.date | None = None) -> int:
    """Scheduled at 00:00 Beijing time (and every hour after as a safety net, decision 0034): move
    approved orders 待生效 → 使用中 → 已过期 through the VALIDITY table on the day their new pass's dates
    say so. Only orders whose move is due are touched, so a run with nothing due costs one query;
    running it twice moves nothing twice. Returns the number of moves."""
    today = today or timezone.localdate()
    V = RenewalOrder.Validity
    due = (
        Q(validity="")
        | Q(validity=V.NOT_YET, new_pass__valid_from__lte=today)
        | Q(validity__in=[V.NOT_YET, V.IN_USE], new_pass__valid_to__lt=today)
    )
    candidates = (
        RenewalOrder.objects.filter(status=S.APPROVED, new_pass__isnull=False)
        .filter(due)
        .values_list("pk", flat=True)
        .order_by("pk")
    )
    moved = 0
    for pk in list(candidates):
        with transaction.atomic():
            order = lock_order(pk)
            if order.status != S.APPROVED or order.new_pass_id is None:
                continue
            target = order.current_validity(today)
            if target == order.validity or not can_transition(order.validity, target, VALIDITY):
                # Already moved (a second run), or the pass's dates were moved back by hand: the
                # table never moves a pass back to 待生效; the screens read the dates themselves.
                continue
            move(
                order,
                target,
                axis=VALIDITY,
                acting_user=None,
                action="renewals.order.validity_changed",
                data={"new_pass": order.new_pass.number},
            )
            moved += 1
    return moved
