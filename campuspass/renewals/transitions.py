"""The state tables of the renewal core — the only place that says which move is allowed — and the one
function every service uses to make a move (decision 0007).

Four axes, each a field of one row:
- ORDER: `RenewalOrder.status` (product.md section 4, with the "awaiting consent" step explicit);
- REFUND: `Refund.status` (the platform's answers SUCCESS / CLOSED / ABNORMAL and what finance does next);
- VALIDITY: `RenewalOrder.validity` (待生效 → 使用中 → 已过期 from the new pass's own dates, moved at
  00:00 Beijing time, decision 0034);
- FULFILMENT: `RenewalOrder.fulfilment_status` (待领取 / 待送证 → 配送中 → 已送达, 未送达 back to 待领取,
  待领取 → 已领取 at the counter; decision 0034).

`lock(model, pk)` locks exactly that row (`select_for_update(of=("self",))`: joined rows such as the
campaign or the staff member are read, never locked, so payments of one campaign never queue on one
row). `move(obj, target, axis=…, …)` then checks the table, saves the field with `update_fields`,
and writes one audit entry with `{"axis", "from", "to"}`; side effects belong in the caller's
`transaction.on_commit`. Nothing else assigns these fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models

from campuspass.core.audit import log_action
from campuspass.core.errors import CampusPassError

from .models import Refund, RenewalOrder

S = RenewalOrder.Status
R = Refund.Status
V = RenewalOrder.Validity
H = RenewalOrder.Handover

ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    S.AWAITING_CONSENT: frozenset({S.PENDING_PAYMENT, S.CLOSED}),
    S.PENDING_PAYMENT: frozenset({S.PAID, S.CLOSED}),
    S.CLOSED: frozenset(),
    S.PAID: frozenset({S.APPROVED, S.REJECTED}),
    S.APPROVED: frozenset(),  # validity and handing out are their own axes (VALIDITY, FULFILMENT)
    S.REJECTED: frozenset({S.REFUNDING}),
    S.REFUNDING: frozenset({S.REFUNDED, S.REFUND_FAILED}),
    S.REFUNDED: frozenset(),
    # Retried (same out_refund_no), restarted after CLOSED (new out_refund_no), or paid out offline.
    S.REFUND_FAILED: frozenset({S.REFUNDING, S.REFUNDED}),
}

REFUND_TRANSITIONS: dict[str, frozenset[str]] = {
    R.PENDING: frozenset({R.PROCESSING, R.SUCCEEDED, R.FAILED, R.CLOSED, R.ABNORMAL}),
    R.PROCESSING: frozenset({R.SUCCEEDED, R.CLOSED, R.ABNORMAL}),
    R.FAILED: frozenset({R.PENDING, R.SUCCEEDED}),  # resent with the same out_refund_no
    R.ABNORMAL: frozenset({R.SUCCEEDED, R.PAID_OUT}),  # abnormal-refund handling, or offline payout
    R.CLOSED: frozenset(),  # final: a new Refund with a new out_refund_no may follow
    R.SUCCEEDED: frozenset(),
    R.PAID_OUT: frozenset(),
}

VALIDITY_TRANSITIONS: dict[str, frozenset[str]] = {
    "": frozenset({V.NOT_YET, V.IN_USE, V.EXPIRED}),  # set once, when the order is approved
    V.NOT_YET: frozenset({V.IN_USE, V.EXPIRED}),
    V.IN_USE: frozenset({V.EXPIRED}),
    V.EXPIRED: frozenset(),
}

FULFILMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    # Set once, when the order is approved: the staff member's choice of pickup or delivery.
    "": frozenset({H.TO_COLLECT, H.TO_DELIVER}),
    # At the counter: handed out (已领取); or the staff member switches to delivery.
    H.TO_COLLECT: frozenset({H.COLLECTED, H.TO_DELIVER}),
    # Not yet with a courier: assigned or claimed; the staff member switches to pickup, or comes to
    # the counter and takes it there (the pass is still at the office).
    H.TO_DELIVER: frozenset({H.DELIVERING, H.TO_COLLECT, H.COLLECTED}),
    # With a courier: delivered (已送达); 未送达 or a switch to pickup sends it back to the counter.
    H.DELIVERING: frozenset({H.DELIVERED, H.TO_COLLECT}),
    H.DELIVERED: frozenset(),
    H.COLLECTED: frozenset(),
}


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one object per axis
class Axis:
    name: str
    model: type[models.Model]
    field: str
    table: dict[str, frozenset[str]]
    what: str  # for messages: 订单 / 退款 / 通行证 / 新证
    title: str  # what the field is called on screens and in the audit log

    def label(self, value: str) -> str:
        choices = dict(self.model._meta.get_field(self.field).choices or ())
        return str(choices.get(value, value or "未设置"))


ORDER = Axis("order", RenewalOrder, "status", ORDER_TRANSITIONS, "订单", "状态")
REFUND = Axis("refund", Refund, "status", REFUND_TRANSITIONS, "退款", "退款状态")
VALIDITY = Axis("validity", RenewalOrder, "validity", VALIDITY_TRANSITIONS, "通行证", "有效状态")
FULFILMENT = Axis(
    "fulfilment", RenewalOrder, "fulfilment_status", FULFILMENT_TRANSITIONS, "新证", "领取/送证状态"
)
AXES = {axis.name: axis for axis in (ORDER, REFUND, VALIDITY, FULFILMENT)}


class TransitionNotAllowed(CampusPassError):
    def __init__(self, current: str, target: str, axis: Axis = ORDER):
        super().__init__(
            f"{axis.what}当前状态为“{axis.label(current)}”，不能变为“{axis.label(target)}”。"
            "请刷新页面查看最新状态。",
            code="transition_not_allowed",
        )
        self.current = current
        self.target = target
        self.axis = axis


def can_transition(current: str, target: str, axis: Axis = ORDER) -> bool:
    return target in axis.table.get(current, frozenset())


def check_transition(current: str, target: str, axis: Axis = ORDER) -> None:
    """Raises TransitionNotAllowed unless the axis's table allows current → target."""
    if not can_transition(current, target, axis):
        raise TransitionNotAllowed(current, target, axis)


def lock(model: type[models.Model], pk: Any, **lookup: Any) -> Any:
    """That one row, locked until the transaction ends (only that row: `of=("self",)`). Joined rows
    needed for reading (campaign, staff) are fetched without a lock."""
    query = model.objects.select_for_update(of=("self",))
    if model is RenewalOrder:
        query = query.select_related("staff", "campaign")
    elif model is Refund:
        query = query.select_related("payment", "order")
    return query.get(pk=pk, **lookup) if pk is not None else query.get(**lookup)


def lock_all(model: type[models.Model], pks: Any, **lookup: Any) -> list:
    """Several rows of one model, each locked as `lock` does (only those rows), taken in primary-key
    order so that two callers locking overlapping sets cannot deadlock; rows not matching `lookup`
    are left alone (neither locked nor returned)."""
    query = model.objects.select_for_update(of=("self",)).filter(pk__in=list(pks), **lookup)
    if model is RenewalOrder:
        query = query.select_related("staff")
    return list(query.order_by("pk"))


def _subject(obj: models.Model) -> tuple[models.Model, str, str]:
    """The audit entry's object, plate and staff number of a row of one of the axes."""
    if isinstance(obj, RenewalOrder):
        return obj, obj.plate, obj.staff.staff_no
    if isinstance(obj, Refund):
        order = obj.order
        if order is not None:
            return obj, order.plate, order.staff.staff_no
        return obj, "", ""
    return obj, "", ""


def move(
    obj: models.Model,
    target: str,
    *,
    axis: Axis,
    acting_user: Any,
    action: str,
    reason: str = "",
    fields: tuple[str, ...] = (),
    data: dict | None = None,
    audit_before: tuple = (),
) -> None:
    """Move a row the caller has locked (`lock`) inside its transaction: check the table, save the
    field (and `fields`) with update_fields, write one audit entry (with `audit_before`, entries the
    caller built for the same change, in one INSERT: `log_action(before=…)`). Raises
    TransitionNotAllowed."""
    current = getattr(obj, axis.field)
    check_transition(current, target, axis)
    setattr(obj, axis.field, target)
    update = [axis.field, *fields]
    if any(f.name == "updated_at" for f in obj._meta.concrete_fields):
        update.append("updated_at")
    obj.save(update_fields=list(dict.fromkeys(update)))
    subject, plate, staff_no = _subject(obj)
    log_action(
        actor=acting_user,
        action=action,
        obj=subject,
        reason=reason,
        data={"axis": axis.name, "from": current, "to": target, **(data or {})},
        plate=plate,
        staff_no=staff_no,
        before=audit_before,
    )
