"""Handing out approved passes (at the counter or by a courier) and assigning deliveries to couriers:
the FULFILMENT axis (`RenewalOrder.fulfilment_status`, decision 0034).

    (approval) → 待领取 | 待送证
    待送证 → 配送中 (a clerk assigns a courier, or a courier claims it) → 已送达
    配送中 → 待领取 (未送达: the pass goes back to the counter)
    待领取 → 已领取 (handed out at the counter; also 待送证 → 已领取 when the staff member comes by)

Every move goes through `transitions.move` on the row it locked (one audit entry with
{"axis": "fulfilment", "from", "to"}); the facts of the move (handed_out_at/by, the two checks, the
courier) are saved with it. The order status stays `approved`; validity (待生效 / 使用中 / 已过期) is
its own axis.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from campuspass.core.audit import log_action
from campuspass.core.errors import CampusPassError
from campuspass.core.roles import COURIER

from ..buildings import OTHER_BUILDING, stored_as
from ..models import Campaign, RenewalOrder
from ..transitions import FULFILMENT, lock_all, move
from .orders import lock_order

S = RenewalOrder.Status
F = RenewalOrder.Fulfilment
H = RenewalOrder.Handover

COURIER_GROUP = COURIER  # the 配送 role, asked of the roles domain module
CHANNELS = {"counter": "窗口领取", "delivery": "送证上门"}


def _user_label(user: Any) -> str:
    if user is None:
        return "系统"
    return user.get_full_name() or user.get_username()


def _acting(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None


def handover_move(
    order: RenewalOrder,
    target: str,
    *,
    acting_user: Any,
    action: str,
    reason: str = "",
    fields: tuple[str, ...] = (),
    data: dict | None = None,
) -> None:
    """One move of a locked order on the FULFILMENT axis (`transitions.move`)."""
    move(
        order,
        target,
        axis=FULFILMENT,
        acting_user=acting_user,
        action=action,
        reason=reason,
        fields=fields,
        data=data,
    )


def _refuse_hand_out(order: RenewalOrder, channel: str) -> None:
    """The Chinese sentence for a handing out the FULFILMENT table does not allow (or nothing)."""
    state = order.fulfilment_status
    if order.handed_over:
        when = timezone.localtime(order.handed_out_at) if order.handed_out_at else None
        who = _user_label(order.handed_out_by)
        done = "送达" if state == H.DELIVERED else "发放"
        raise CampusPassError(
            (f"该通行证已于 {when:%Y-%m-%d %H:%M} 由 {who} {done}" if when else f"该通行证已{done}")
            + "，不能重复发放。如对方称未收到，请核实后联系管理员。",
            code="already_handed_out",
        )
    if order.status != S.APPROVED or not state:
        raise CampusPassError(
            f"订单当前状态为“{order.status_label}”，不能发放。只有审核通过的订单才能发放通行证。",
            code="not_approved",
        )
    if channel == "delivery":
        if state == H.TO_COLLECT:
            raise CampusPassError(
                "该订单选择的是到保卫处领取，不在送证上门名单中。请让职工到窗口领取。", code="not_delivery"
            )
        if state == H.TO_DELIVER:
            raise CampusPassError(
                "该订单还没有分派配送员，不能登记送达。请先分派给配送员（或由配送员认领）后再登记。",
                code="not_assigned",
            )
    elif state == H.DELIVERING:
        courier = _user_label(order.courier) if order.courier_id else "配送员"
        raise CampusPassError(
            f"该通行证已交由 {courier} 送证上门，不能在窗口发放。请配送员登记“未送达”并把证交回窗口后再发放。",
            code="with_courier",
        )


def order_hand_out(
    *,
    order: RenewalOrder,
    acting_user: Any,
    old_pass_collected: bool,
    id_checked: bool,
    channel: str = "counter",
    early_confirmed: bool = False,
) -> RenewalOrder:
    """ "发放" (待领取 / 待送证 → 已领取) or "已送达" (配送中 → 已送达): record that the new pass was
    handed over, with the two checks. Raises CampusPassError (already handed out, not approved, not
    assigned, with a courier, a check missing, before the pickup date)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel}")
    with transaction.atomic():
        order = lock_order(order)
        _refuse_hand_out(order, channel)
        if order.new_pass_id is None:  # pragma: no cover - order_approve always creates it
            raise CampusPassError("该订单尚未生成新通行证，请联系管理员。", code="no_pass")
        missing = [
            label
            for label, done in (("旧证已收回", old_pass_collected), ("工作证已核验", id_checked))
            if not done
        ]
        if missing:
            raise CampusPassError(
                "请先{}，并勾选“{}”，再{}。".format(
                    "、".join({"旧证已收回": "收回旧证", "工作证已核验": "核验工作证"}[m] for m in missing),
                    "”和“".join(missing),
                    "登记送达" if channel == "delivery" else "发放新证",
                ),
                code="checks_required",
            )
        today = timezone.localdate()
        early = channel == "counter" and order.pickup_from is not None and order.pickup_from > today
        if early and not early_confirmed:
            # The office may not have printed it yet: handing out before the day is a decision.
            raise CampusPassError(
                f"可领取日期为 {order.pickup_from:%Y-%m-%d}，今天还没到。请先确认新证已制好，"
                "勾选“新证已制好，提前发放”后再发放。",
                code="before_pickup_date",
            )
        order.handed_out_at = timezone.now()
        order.handed_out_by = _acting(acting_user)
        order.old_pass_collected = True
        order.id_checked = True
        handover_move(
            order,
            H.DELIVERED if channel == "delivery" else H.COLLECTED,
            acting_user=acting_user,
            action="renewals.order.handed_out",
            reason=CHANNELS[channel],
            fields=("handed_out_at", "handed_out_by", "old_pass_collected", "id_checked"),
            data={
                "channel": channel,
                "new_pass": order.new_pass.number,
                "old_pass_collected": True,
                "id_checked": True,
                **({"early": True, "pickup_from": order.pickup_from.isoformat()} if early else {}),
            },
        )
    return order


def is_courier(user: Any) -> bool:
    return bool(
        user is not None
        and getattr(user, "is_active", False)
        and user.groups.filter(name=COURIER_GROUP).exists()
    )


def order_assign_courier(*, orders: Iterable[RenewalOrder | int], courier: Any, acting_user: Any) -> int:
    """Assign delivery orders (待送证 → 配送中) or give them to another courier (配送中, reassigned);
    returns how many changed. Orders that are no longer deliverable are skipped. Raises
    CampusPassError (not a courier, none deliverable)."""
    if not is_courier(courier):
        raise CampusPassError(
            "只能分派给“配送”角色的在岗人员，请重新选择配送员。如需新增配送员，请联系管理员。",
            code="not_courier",
        )
    pks = sorted({o.pk if isinstance(o, RenewalOrder) else int(o) for o in orders})
    if not pks:
        raise CampusPassError("请先勾选要分派的送证订单。", code="nothing_selected")
    changed = 0
    with transaction.atomic():
        # Locked in primary-key order so that two clerks assigning overlapping lists cannot deadlock.
        locked = lock_all(
            RenewalOrder, pks, status=S.APPROVED, fulfilment_status__in=[H.TO_DELIVER, H.DELIVERING]
        )
        if not locked:
            raise CampusPassError(
                "所选订单都已送达、改为到窗口领取或状态已变化，没有可分派的订单。请刷新页面。",
                code="nothing_deliverable",
            )
        now = timezone.now()
        User = get_user_model()
        previous_names = dict(
            User.objects.filter(pk__in={o.courier_id for o in locked if o.courier_id}).values_list(
                "pk", "username"
            )
        )
        for order in locked:
            if order.courier_id == courier.pk:
                continue
            previous = previous_names.get(order.courier_id, "")
            order.courier = courier
            order.courier_assigned_at = now
            data = {"courier": courier.get_username(), "previous": previous}
            if order.fulfilment_status == H.TO_DELIVER:
                handover_move(
                    order,
                    H.DELIVERING,
                    acting_user=acting_user,
                    action="renewals.order.courier_assigned",
                    fields=("courier", "courier_assigned_at"),
                    data=data,
                )
            else:  # 配送中 with another courier: a new fact, not a move
                order.save(update_fields=["courier", "courier_assigned_at", "updated_at"])
                log_action(
                    actor=acting_user,
                    action="renewals.order.courier_assigned",
                    obj=order,
                    data=data,
                    plate=order.plate,
                    staff_no=order.staff.staff_no,
                )
            changed += 1
    return changed


def order_claim_deliveries(*, orders: Iterable[RenewalOrder | int], courier: Any) -> int:
    """A courier takes unassigned deliveries themselves ("我来送", 待送证 → 配送中); returns how many
    they got. Orders another courier took first, delivered or changed meanwhile are skipped. Raises
    CampusPassError (not a courier, nothing selected, none left)."""
    if not is_courier(courier):
        raise CampusPassError("只有“配送”角色的人员可以认领送证订单。", code="not_courier")
    pks = sorted({o.pk if isinstance(o, RenewalOrder) else int(o) for o in orders})
    if not pks:
        raise CampusPassError("请先勾选要认领的送证订单。", code="nothing_selected")
    with transaction.atomic():
        locked = lock_all(
            RenewalOrder, pks, status=S.APPROVED, fulfilment_status=H.TO_DELIVER, courier__isnull=True
        )
        if not locked:
            raise CampusPassError(
                "所选订单已被其他配送员认领、已送达或状态已变化，请刷新页面后重新选择。", code="nothing_left"
            )
        now = timezone.now()
        for order in locked:
            order.courier, order.courier_assigned_at = courier, now
            handover_move(
                order,
                H.DELIVERING,
                acting_user=courier,
                action="renewals.order.courier_claimed",
                fields=("courier", "courier_assigned_at"),
                data={"courier": courier.get_username()},
            )
    return len(locked)


def order_delivery_failed(*, order: RenewalOrder, acting_user: Any, reason: str) -> RenewalOrder:
    """ "未送达" (配送中 → 待领取): nobody there, wrong address … The pass goes back to the counter: the
    order becomes a pickup from today (or its pickup date), the courier is released, and the staff
    member gets the pickup SMS. Raises CampusPassError."""
    reason = " ".join((reason or "").split())[:200]
    if not reason:
        raise CampusPassError("请选择或填写未送达的原因（如：无人在、地址不对）。", code="reason_required")
    with transaction.atomic():
        order = lock_order(order)
        if order.status != S.APPROVED or order.fulfilment_status != H.DELIVERING:
            if order.status == S.APPROVED and order.fulfilment_status == H.TO_DELIVER:
                message = "该订单还没有分派配送员，没有送过，无需登记未送达。请先分派给配送员。"
            else:
                message = f"订单当前状态为“{order.status_label}”，不是配送中的送证订单，无需登记未送达。请刷新页面。"
            raise CampusPassError(message, code="not_deliverable")
        courier = order.courier.get_username() if order.courier_id else ""
        today = timezone.localdate()
        order.fulfilment = F.PICKUP
        order.courier = None
        order.courier_assigned_at = None
        if order.pickup_from is None or order.pickup_from < today:
            order.pickup_from = today
        handover_move(
            order,
            H.TO_COLLECT,
            acting_user=acting_user,
            action="renewals.order.delivery_failed",
            reason=reason,
            fields=("fulfilment", "courier", "courier_assigned_at", "pickup_from"),
            data={
                "courier": courier,
                "address": order.delivery_address,
                "pickup_from": order.pickup_from.isoformat(),
            },
        )
        from . import notify

        notify.order_approved(order)  # now a pickup: where and from when, what to bring
    return order


def order_phone_reveal(*, order: RenewalOrder, acting_user: Any, where: str) -> str:
    """ "显示完整号码" for an order: `registry.services.reveal_phone` (audited, with the plate)."""
    from campuspass.registry.services import reveal_phone

    return reveal_phone(staff=order.staff, acting_user=acting_user, where=where, order=order)


# --- reads for the counter and delivery screens --------------------------------------------------------
# (selectors: they only read)


def search_orders(*, query: str, campaign: Campaign | None) -> QuerySet[RenewalOrder]:
    """The counter's search: `renewals.selectors.find_orders` (one reading of a search box)."""
    from ..selectors import find_orders

    return find_orders(query, campaign=campaign)


def pending_pickups(*, campaign: Campaign | None) -> QuerySet[RenewalOrder]:
    """待领取: approved passes waiting at the counter, oldest decision first."""
    if campaign is None:
        return RenewalOrder.objects.none()
    return (
        RenewalOrder.objects.filter(campaign=campaign, status=S.APPROVED, fulfilment_status=H.TO_COLLECT)
        .select_related("staff", "new_pass")
        .order_by("decided_at", "pk")
    )


def pending_deliveries(*, campaign: Campaign | None) -> QuerySet[RenewalOrder]:
    """待送证 and 配送中: approved delivery orders not yet delivered."""
    if campaign is None:
        return RenewalOrder.objects.none()
    return (
        RenewalOrder.objects.filter(
            campaign=campaign, status=S.APPROVED, fulfilment_status__in=[H.TO_DELIVER, H.DELIVERING]
        )
        .select_related("staff", "new_pass", "courier")
        .order_by("decided_at", "pk")
    )


def delivered_on(*, campaign: Campaign | None, day) -> int:
    """How many passes were delivered (已送达) on `day` (a range of handed_out_at: order_delivered_idx)."""
    if campaign is None:
        return 0
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return RenewalOrder.objects.filter(
        campaign=campaign,
        fulfilment_status=H.DELIVERED,
        handed_out_at__gte=start,
        handed_out_at__lt=start + dt.timedelta(days=1),
    ).count()


def _building_order(name: str) -> tuple[bool, str]:
    return (name == OTHER_BUILDING, name)


def delivery_buildings(orders: QuerySet[RenewalOrder]) -> list[tuple[str, int]]:
    """[(building, how many orders)] of `orders`, buildings in name order with "其他" last, counted in
    the database by the building kept on each order (one statement, no address read)."""
    counts: dict[str, int] = {}
    for name, count in orders.order_by().values_list("delivery_building").annotate(n=Count("pk")):
        key = name or OTHER_BUILDING
        counts[key] = counts.get(key, 0) + count
    return sorted(counts.items(), key=lambda item: _building_order(item[0]))


def in_building(orders: QuerySet[RenewalOrder], building: str) -> QuerySet[RenewalOrder]:
    """`orders` of one building of delivery_buildings' list (by the building kept on each order)."""
    return orders.filter(delivery_building__in=stored_as(building))


def first_by_building(orders: QuerySet[RenewalOrder], limit: int) -> list[tuple[str, int]]:
    """The first `limit` of `orders` as the delivery screen lists them — by building ("其他" last),
    then in the list's order — as (building, order key): read in that order from the index of
    pending deliveries by building (order_delivery_building_idx), the named buildings first and
    "其他" only if they leave room (one statement, two at most)."""
    other = stored_as(OTHER_BUILDING)
    named = (
        orders.exclude(delivery_building__in=other)
        .order_by("delivery_building", "decided_at", "pk")
        .values_list("delivery_building", "pk")[:limit]
    )
    first = list(named)
    if len(first) < limit:
        rest = (
            orders.filter(delivery_building__in=other)
            .order_by("decided_at", "pk")
            .values_list("pk", flat=True)
        )
        first += [(OTHER_BUILDING, pk) for pk in rest[: limit - len(first)]]
    return first


def group_by_building(orders: Iterable[RenewalOrder]) -> list[tuple[str, list[RenewalOrder]]]:
    """[(building, orders)], buildings in name order with "其他" last (the building kept on each order)."""
    groups: dict[str, list[RenewalOrder]] = {}
    for order in orders:
        groups.setdefault(order.delivery_building or OTHER_BUILDING, []).append(order)
    return sorted(groups.items(), key=lambda item: _building_order(item[0]))
