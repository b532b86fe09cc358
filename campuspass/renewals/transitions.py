"""The state tables of the renewal core — the only place that says which move is allowed — and the one
function every service uses to make a move (decision 0007).

Three axes, each a field of one row:
- ORDER: `RenewalOrder.status` (product.md section 4, with the "awaiting consent" step explicit);
- REFUND: `Refund.status` (the platform's answers SUCCESS / CLOSED / ABNORMAL and what finance does next);
- VALIDITY: `RenewalOrder.validity` (待生效 → 使用中 → 已过期 from the new pass's own dates).

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

ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    S.AWAITING_CONSENT: frozenset({S.PENDING_PAYMENT, S.CLOSED}),
    S.PENDING_PAYMENT: frozenset({S.PAID, S.CLOSED}),
    S.CLOSED: frozenset(),
    S.PAID: frozenset({S.APPROVED, S.REJECTED}),
    S.APPROVED: frozenset(),  # validity is its own axis; handing out is recorded on the order
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


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one object per axis
class Axis:
    name: str
    model: type[models.Model]
    field: str
    table: dict[str, frozenset[str]]
    what: str  # for messages: 订单 / 退款 / 通行证

    def label(self, value: str) -> str:
        choices = dict(self.model._meta.get_field(self.field).choices or ())
        return str(choices.get(value, value or "未设置"))


ORDER = Axis("order", RenewalOrder, "status", ORDER_TRANSITIONS, "订单")
REFUND = Axis("refund", Refund, "status", REFUND_TRANSITIONS, "退款")
VALIDITY = Axis("validity", RenewalOrder, "validity", VALIDITY_TRANSITIONS, "通行证")
AXES = {axis.name: axis for axis in (ORDER, REFUND, VALIDITY)}


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
) -> None:
    """Move a row the caller has locked (`lock`) inside its transaction: check the table, save the
    field (and `fields`) with update_fields, write one audit entry. Raises TransitionNotAllowed."""
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
    )
