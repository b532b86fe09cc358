"""Reads that cross relations: who may renew online (product.md section 5), and which campaign."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils import timezone

from campuspass.core.plates import is_local
from campuspass.registry.models import Pass, Staff

from .models import Campaign, RenewalOrder

# WeChat Pay's 商户订单号: 6–32 letters, digits and _-|* (new_out_trade_no makes letters and digits).
OUT_TRADE_NO_RE = re.compile(r"[0-9A-Za-z_\-|*]{6,32}")


def current_campaign(at=None) -> Campaign | None:
    """The campaign whose window contains `at`; else the next one to open; else the latest."""
    at = at or timezone.now()
    campaigns = Campaign.objects.all()
    return (
        campaigns.filter(window_start__lte=at, window_end__gt=at).first()
        or campaigns.filter(window_start__gt=at).order_by("window_start").first()
        or campaigns.order_by("-year").first()
    )


def pickup_rule(campaign: Campaign) -> str:
    """From when a pass can be collected, as the pages say it (decision 0024; the date itself is
    ``workdays.pickup_date``)."""
    days = campaign.pickup_delay_working_days
    if days == 0:
        return "审核通过后即可领取（休息日审核通过的，下一个工作日起）"
    return (
        f"审核通过后第 {days} 个工作日起（保卫处需要 {days} 个工作日制证；"
        f"工作日 {campaign.print_cutoff:%H:%M} 以后或休息日审核通过的，顺延一个工作日）"
    )


def onsite_instructions(campaign: Campaign) -> str:
    return f"请到{campaign.pickup_place}现场办理（{campaign.pickup_hours}），咨询电话：{campaign.contact_phones}。"


def window_text(campaign: Campaign) -> str:
    start = timezone.localtime(campaign.window_start)
    end = timezone.localtime(campaign.window_end)
    return f"{start:%Y年%-m月%-d日 %H:%M}至{end:%Y年%-m月%-d日 %H:%M}"


@dataclass(frozen=True)
class Eligibility:
    """Either may renew (`ok`), or the first reason why not, with the sentence the staff member sees."""

    ok: bool
    code: str
    message: str
    previous_pass: Pass | None = None
    open_order: RenewalOrder | None = None


def renewal_eligibility(*, plate: str, campaign: Campaign | None, at=None, lock: bool = False) -> Eligibility:
    """The one place that decides whether `plate` (normalised) may renew online in `campaign`.
    Checks in the order of product.md section 5 and returns the first that fails.
    `lock` (inside a transaction: 提交订单): the previous pass is read FOR UPDATE, so two submits of
    the same plate queue there, and the open order comes with its staff and campaign."""
    if campaign is None:
        return Eligibility(False, "no_campaign", "目前没有开放的通行证续费活动，请留意保卫处通知。")
    onsite = onsite_instructions(campaign)
    passes = Pass.objects.select_for_update() if lock else Pass.objects
    previous = (
        passes.select_related("holder", "vehicle")
        .filter(year=campaign.previous_year, vehicle__plate=plate)
        .first()
    )
    if previous is not None and previous.holder.status != Staff.Status.ACTIVE:
        return Eligibility(
            False,
            "not_in_service",
            f"线上办理仅限在职职工，您的人员状态为“{previous.holder.get_status_display()}”。{onsite}",
            previous,
        )
    if previous is None:
        return Eligibility(
            False,
            "no_previous_pass",
            f"该车辆没有{campaign.previous_year}年度的通行证，只能线上续办上一年度审核通过的通行证；"
            f"新入职职工或新购车辆{onsite}",
        )
    if previous.review_status != Pass.ReviewStatus.APPROVED:
        return Eligibility(
            False,
            "previous_not_approved",
            f"该车辆{campaign.previous_year}年度通行证的审核状态为“{previous.get_review_status_display()}”，"
            f"只准许线上办理{campaign.previous_year}年度审核通过的通行证。{onsite}",
            previous,
        )
    if not is_local(plate, campaign.prefixes):
        return Eligibility(
            False,
            "not_local_plate",
            f"外省（市）号牌的机动车不在线上办理范围内，需到现场办理。{onsite}",
            previous,
        )
    at = at or timezone.now()
    if not campaign.window_open(at):
        when = "尚未开始" if at < campaign.window_start else "已结束"
        return Eligibility(
            False,
            "window_closed",
            f"{campaign.year}年度通行证线上办理时间为{window_text(campaign)}，目前{when}。"
            f"已提交的订单仍可查看和申请退款。{onsite}",
            previous,
        )
    open_orders = RenewalOrder.objects.filter(
        previous_pass=previous, campaign=campaign, status__in=RenewalOrder.OPEN_STATUSES
    )
    if lock:
        open_orders = open_orders.select_related("staff", "campaign")
    open_order = open_orders.order_by("-created_at").first()
    if open_order is not None and open_order.status not in RenewalOrder.UNPAID_STATUSES:
        return Eligibility(
            False,
            "order_exists",
            f"该车辆已有{campaign.year}年度的续费订单（{open_order.status_label}），请在“订单记录”中查看，无需重复办理。",
            previous,
            open_order,
        )
    # An unpaid order of one's own is not a reason to refuse: submitting again continues it.
    return Eligibility(True, "ok", "可以线上续费。", previous, open_order)


def orders_for_plate(plate: str):
    return (
        RenewalOrder.objects.filter(plate=plate)
        .select_related("campaign", "new_pass")
        .order_by("-created_at")
    )


def find_orders(raw: object, *, campaign: Campaign | None):
    """The campaign's orders of the staff members a query finds (registry.selectors: plate in any
    spelling or part, 工号 or part, name, whole phone or its last 4 digits, pass number), plus the
    order whose number (out_trade_no) or new pass number it is — all of that person's orders."""
    from campuspass.registry.selectors import Query, numbered_passes, staff_ids

    query = Query.read(raw)
    if not query.text or campaign is None:
        return RenewalOrder.objects.none()
    orders = RenewalOrder.objects.filter(campaign=campaign)
    compact = "".join(query.text.split())
    # Separate indexed lookups (issue 13): the registry's readings, then the order's own numbers
    # and plate; their staff members' orders of the campaign are the answer. The passes of the
    # number are read once, for their holders and for the orders they are the new pass of; an
    # order number is looked up only in text that can be one (decision 0038, addendum 2).
    passes = numbered_passes(query, limit=50)
    people = dict.fromkeys(staff_ids(query, limit=50, passes=passes))
    of_orders = orders.values_list("staff_id", flat=True)
    lookups = []
    if OUT_TRADE_NO_RE.fullmatch(compact):
        lookups.append(of_orders.filter(out_trade_no__iexact=compact))
    if passes:
        lookups.append(of_orders.filter(new_pass_id__in=[pk for pk, _ in passes]))
    if query.plate:
        lookups.append(of_orders.filter(plate=query.plate))
    elif query.plate_part:
        lookups.append(of_orders.filter(plate__contains=query.plate_part))
    for lookup in lookups:
        people.update(dict.fromkeys(lookup[:50]))
    staff_ids_found = list(people)
    return (
        orders.filter(staff_id__any=staff_ids_found)
        .select_related("staff", "new_pass", "handed_out_by", "campaign", "courier")
        .order_by("staff__name", "plate", "-created_at")
    )
