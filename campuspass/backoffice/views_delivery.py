"""送证上门: approved delivery orders grouped by building, assigned to couriers, marked delivered
with the same two checks as the counter, and a printable delivery list."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from campuspass.core.errors import CampusPassError
from campuspass.core.fieldrules import parse_id
from campuspass.core.phones import mask_phone
from campuspass.renewals.models import RenewalOrder
from campuspass.renewals.selectors import current_campaign
from campuspass.renewals.services.fulfilment import (
    delivered_on,
    delivery_buildings,
    first_by_building,
    in_building,
    order_assign_courier,
    order_claim_deliveries,
    order_delivery_failed,
    order_hand_out,
    order_phone_reveal,
    pending_deliveries,
)

from .roles import COURIER, can, role_required, roles_of

User = get_user_model()
LIST_LIMIT = 200  # orders listed under their buildings; the others are reached by the filters
PRINT_LIMIT = 1000  # rows of one printed list (about 40 A4 pages); more: print by building or courier


def _couriers():
    return User.objects.filter(groups__name=COURIER, is_active=True).order_by("username").distinct()


def _label(user) -> str:
    return (user.get_full_name() or user.get_username()) if user else ""


def _rows(orders):
    for order in orders:
        order.masked_phone = mask_phone(order.staff.mobile)
    return orders


def _first_groups(orders, limit: int, counts: dict[str, int]):
    """([(building, its first orders, how many it has)], how many listed): the first `limit` of
    `orders` by building (read through the pending deliveries' building index), with masked phones."""
    first = first_by_building(orders, limit)
    rows = {order.pk: order for order in _rows(list(orders.filter(pk__in=[pk for _, pk in first])))}
    listed: dict[str, list[RenewalOrder]] = {}
    for name, pk in first:
        if pk in rows:
            listed.setdefault(name, []).append(rows[pk])
    return [(name, items, counts.get(name, len(items))) for name, items in listed.items()], len(rows)


def _filtered(request, campaign):
    """(the pending deliveries the courier filter keeps, the filter's value)."""
    orders = pending_deliveries(campaign=campaign)
    courier = request.GET.get("courier", "")
    if courier == "none":
        orders = orders.filter(courier__isnull=True)
    elif parse_id(courier) is not None:
        orders = orders.filter(courier_id=parse_id(courier))
    return orders, courier


@role_required("delivery")
@require_GET
def delivery(request):
    campaign = current_campaign()
    orders, courier_filter = _filtered(request, campaign)
    building = request.GET.get("building", "")
    is_courier = COURIER in roles_of(request.user)
    mine = _rows(list(orders.filter(courier=request.user))) if is_courier else []
    rest = orders.exclude(courier=request.user) if mine else orders
    unfiltered = not mine and courier_filter != "none" and parse_id(courier_filter) is None
    # Every building and its count from the buildings kept on the orders, the rows themselves only
    # for the first LIST_LIMIT orders shown (27,000 pending deliveries rendered were 10 s and 29 MB;
    # their addresses read for the buildings ~200 ms; issue 13).
    every = delivery_buildings(rest)
    wanted = [(name, count) for name, count in every if not building or name == building]
    counted = dict(wanted)
    chosen = in_building(rest, building) if building else rest
    groups, listed = _first_groups(chosen, LIST_LIMIT, counted)
    pending = len(mine) + sum(count for _, count in wanted)
    if unfiltered:  # `every` is of every pending delivery: its buildings are the filter's choices
        all_buildings = [name for name, _ in every]
    else:
        all_buildings = [name for name, _ in delivery_buildings(pending_deliveries(campaign=campaign))]
    delivered_today = delivered_on(campaign=campaign, day=timezone.localdate())
    return render(
        request,
        "backoffice/delivery/delivery.html",
        {
            "screen": "delivery",
            "campaign": campaign,
            "mine": mine,
            "groups": groups,
            "total": pending,
            "listed": listed + len(mine),
            "list_limit": LIST_LIMIT,
            "print_limit": PRINT_LIMIT,
            "buildings": all_buildings,
            "building": building,
            "courier_filter": courier_filter,
            "couriers": _couriers(),
            "can_assign": can(request.user, "delivery_assign"),
            "can_full_phone": can(request.user, "full_phone"),
            "delivered_today": delivered_today,
            "is_courier": is_courier,
            "failed_reasons": FAILED_REASONS,
        },
    )


@role_required("delivery_assign")
@require_POST
def assign(request):
    courier_id = request.POST.get("courier", "")
    courier = User.objects.filter(pk=parse_id(courier_id)).first() if parse_id(courier_id) else None
    if courier is None:
        messages.error(request, "请选择配送员后再分派。")
        return redirect("backoffice:delivery")
    selected = [pk for pk in (parse_id(v) for v in request.POST.getlist("orders")) if pk is not None]
    try:
        count = order_assign_courier(orders=selected, courier=courier, acting_user=request.user)
    except CampusPassError as exc:
        messages.error(request, exc.message)
    else:
        skipped = len(set(selected)) - count
        text = f"已将 {count} 个订单分派给 {_label(courier)}。"
        if skipped:
            text += f"另有 {skipped} 个订单已是该配送员负责、已送达或状态已变化，未改动。"
        messages.success(request, text)
    return redirect("backoffice:delivery")


@role_required("delivery")
@require_POST
def delivered(request, pk: int):
    order = get_object_or_404(RenewalOrder.objects.select_related("staff", "new_pass"), pk=pk)
    if not can(request.user, "delivery_assign") and order.courier_id != request.user.pk:
        messages.error(request, "该订单没有分派给您，不能由您登记送达。如需改派，请联系窗口。")
        return redirect("backoffice:delivery")
    try:
        order_hand_out(
            order=order,
            acting_user=request.user,
            old_pass_collected=request.POST.get("old_pass_collected") in {"on", "1"},
            id_checked=request.POST.get("id_checked") in {"on", "1"},
            channel="delivery",
        )
    except CampusPassError as exc:
        messages.error(request, f"{order.plate} {order.staff.name}：{exc.message}")
    else:
        messages.success(
            request, f"已登记送达：{order.plate} {order.staff.name}，新证 {order.new_pass.number}。"
        )
    back = request.POST.get("back", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("backoffice:delivery")
    return redirect(back)


FAILED_REASONS = ("无人在，电话联系不上", "地址不对或找不到", "本人要求改为到窗口领取", "未带工作证或旧证")


@role_required("delivery")
@require_POST
def claim(request):
    """ "认领": a courier takes unassigned deliveries without waiting for a clerk."""
    selected = [pk for pk in (parse_id(v) for v in request.POST.getlist("orders")) if pk is not None]
    try:
        count = order_claim_deliveries(orders=selected, courier=request.user)
    except CampusPassError as exc:
        messages.error(request, exc.message)
    else:
        skipped = len(set(selected)) - count
        text = f"已认领 {count} 个送证订单，见“分派给我的”。"
        if skipped:
            text += f"另有 {skipped} 个已被其他配送员认领或状态已变化，未认领。"
        messages.success(request, text)
    return redirect("backoffice:delivery")


@role_required("delivery")
@require_POST
def failed(request, pk: int):
    """ "未送达": the pass goes back to the counter and the staff member is told to collect it."""
    order = get_object_or_404(RenewalOrder.objects.select_related("staff", "campaign"), pk=pk)
    if not can(request.user, "delivery_assign") and order.courier_id != request.user.pk:
        messages.error(request, "该订单没有分派给您，不能由您登记未送达。如需改派，请联系窗口。")
        return redirect("backoffice:delivery")
    reason = request.POST.get("reason", "")
    if reason == "other" or not reason:
        reason = request.POST.get("reason_text", "")
    try:
        order = order_delivery_failed(order=order, acting_user=request.user, reason=reason)
    except CampusPassError as exc:
        messages.error(request, f"{order.plate} {order.staff.name}：{exc.message}")
    else:
        messages.success(
            request,
            f"已登记未送达：{order.plate} {order.staff.name}（{reason}）。请把通行证交回窗口，"
            f"已短信通知本人自 {order.pickup_from:%-m月%-d日} 起到{order.campaign.pickup_place}领取。",
        )
    return redirect("backoffice:delivery")


@role_required("delivery")
@require_GET
def print_list(request):
    campaign = current_campaign()
    orders, courier_filter = _filtered(request, campaign)
    building = request.GET.get("building", "")
    own_list = not can(request.user, "delivery_assign")
    if own_list:
        # A courier prints their own list, with the full numbers they need to call (each audited).
        orders, courier_filter = orders.filter(courier=request.user), str(request.user.pk)
    chosen = in_building(orders, building) if building else orders
    # Counted by building in one statement, the rows of the first PRINT_LIMIT only (a list of every
    # pending delivery was 27,000 rows, issue 13).
    counts = dict(delivery_buildings(chosen))
    groups, listed = _first_groups(chosen, PRINT_LIMIT, counts)
    if own_list:
        for _, items, _count in groups:
            for order in items:
                order.masked_phone = order_phone_reveal(
                    order=order, acting_user=request.user, where="送证清单"
                )
    courier = User.objects.filter(pk=parse_id(courier_filter)).first() if parse_id(courier_filter) else None
    title = "送证上门清单"
    if courier is not None:
        title += f" · 配送员 {_label(courier)}"
    elif courier_filter == "none":
        title += " · 未分派"
    if building:
        title += f" · {building}"
    return render(
        request,
        "backoffice/delivery/print.html",
        {
            "title": title,
            "campaign": campaign,
            "groups": groups,
            "total": sum(counts.values()),
            "listed": listed,
            "printed_at": timezone.localtime(),
            "printed_by": _label(request.user),
        },
    )
