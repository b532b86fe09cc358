"""窗口领取: find the staff member's order, hand out the new pass with the two checks, print the
pickup slip, and the list of approved passes not yet collected."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from campuspass.core.errors import CampusPassError
from campuspass.core.paging import Tally, count_each, page_by_ids
from campuspass.core.phones import mask_phone
from campuspass.renewals.models import RenewalOrder
from campuspass.renewals.selectors import current_campaign
from campuspass.renewals.services.fulfilment import (
    order_hand_out,
    order_phone_reveal,
    pending_pickups,
    search_orders,
)

from .roles import can, role_required

# A clerk looks for the one person in front of the window: 20 cards are more than a name shared by
# several staff gives, and each card is a whole hand-out form (drawing 50 of them took most of a
# name search's time at full size, issue 13); more matches ask for a fuller plate, 工号 or phone.
RESULT_LIMIT = 20


# 待领取 counted up to these (one statement through the pickup queue's index, never the whole
# week's approvals): the counter's header says "999+", the list pages through its first 10,000.
PENDING_COUNT_CAP = 999
PENDING_LIST_CAP = 10_000


def pending_pickup_count(campaign) -> Tally:
    return count_each({"pending": pending_pickups(campaign=campaign)}, PENDING_COUNT_CAP)["pending"]


def _checked(request, name: str) -> bool:
    return request.POST.get(name) in {"on", "1", "true", "yes"}


def _order(pk: int) -> RenewalOrder:
    return get_object_or_404(
        RenewalOrder.objects.select_related("staff", "new_pass", "handed_out_by", "campaign", "courier"),
        pk=pk,
    )


def _card_context(request, order: RenewalOrder, **extra) -> dict:
    return {
        "order": order,
        "masked_phone": mask_phone(order.staff.mobile),
        "can_full_phone": can(request.user, "full_phone"),
        "today": timezone.localdate(),
        **extra,
    }


@role_required("counter")
@require_GET
def counter(request):
    query = request.GET.get("q", "").strip()
    campaign = current_campaign()
    orders = list(search_orders(query=query, campaign=campaign)[: RESULT_LIMIT + 1]) if query else []
    cards = [_card_context(request, order) for order in orders[:RESULT_LIMIT]]
    return render(
        request,
        "backoffice/counter/counter.html",
        {
            "screen": "counter",
            "q": query,
            "campaign": campaign,
            "cards": cards,
            "too_many": len(orders) > RESULT_LIMIT,
            "pending_count": pending_pickup_count(campaign),
        },
    )


@role_required("counter")
@require_POST
def hand_out(request, pk: int):
    order = _order(pk)
    error = ""
    try:
        order = order_hand_out(
            order=order,
            acting_user=request.user,
            old_pass_collected=_checked(request, "old_pass_collected"),
            id_checked=_checked(request, "id_checked"),
            channel="counter",
            early_confirmed=_checked(request, "early_confirmed"),
        )
    except CampusPassError as exc:
        error = exc.message
    order = _order(pk)
    if request.headers.get("HX-Request"):
        context = _card_context(request, order, error=error, just_handed_out=not error)
        # The 待领取名单 count in the page header changes with it (htmx out-of-band swap).
        context["oob_pending_count"] = pending_pickup_count(order.campaign)
        return render(request, "backoffice/counter/_order.html", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(
            request,
            format_html(
                "已发放 {} 的通行证 {}。<a href='{}' target='_blank'>打印领取单</a>",
                order.staff.name,
                order.new_pass.number,
                reverse("backoffice:counter-slip", args=[order.pk]),
            ),
        )
    return redirect(f"{reverse('backoffice:counter')}?q={order.plate}")


@role_required("counter")
@require_GET
def slip(request, pk: int):
    order = _order(pk)
    if order.status != RenewalOrder.Status.APPROVED or order.new_pass is None:
        messages.error(request, f"订单当前状态为“{order.status_label}”，没有可领取的通行证，不能打印领取单。")
        return redirect(f"{reverse('backoffice:counter')}?q={order.plate}")
    size = "A4" if request.GET.get("size", "").lower() == "a4" else "A5"
    handed_out = order.handed_over
    clerk = order.handed_out_by if handed_out else request.user
    return render(
        request,
        "backoffice/counter/slip.html",
        {
            "order": order,
            "size": size,
            "clerk": (clerk.get_full_name() or clerk.get_username()) if clerk else "",
            "date": timezone.localdate(order.handed_out_at) if handed_out else timezone.localdate(),
            "handed_out": handed_out,
        },
    )


@role_required("counter")
@require_GET
def pending(request):
    campaign = current_campaign()
    orders = pending_pickups(campaign=campaign)
    count = count_each({"pending": orders}, PENDING_LIST_CAP)["pending"]
    page = page_by_ids(orders, request.GET.get("page"), 100, count=count)
    return render(
        request,
        "backoffice/counter/pending.html",
        {"screen": "counter", "campaign": campaign, "page": page, "today": timezone.localdate()},
    )


@role_required("full_phone")
@require_POST
def full_phone(request, pk: int):
    order = _order(pk)
    if not can(request.user, "counter") and not (
        order.status == RenewalOrder.Status.APPROVED
        and order.fulfilment_status in (RenewalOrder.Handover.TO_DELIVER, RenewalOrder.Handover.DELIVERING)
        and order.courier_id in (None, request.user.pk)
    ):
        # A courier needs the number of a pass still to be delivered, not any staff member's by id.
        raise Http404("没有找到待送达的订单")
    where = request.POST.get("where", "counter")[:30]
    phone = order_phone_reveal(order=order, acting_user=request.user, where=where)
    if request.headers.get("HX-Request"):
        return HttpResponse(format_html('<span class="phone phone-full" title="已记录查看">{}</span>', phone))
    messages.info(request, f"{order.staff.name} 的完整手机号：{phone}（本次查看已记录）")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = f"{reverse('backoffice:counter')}?q={order.plate}"
    return redirect(back)
