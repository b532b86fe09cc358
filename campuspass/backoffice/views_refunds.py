"""退款管理: refunds by state with their platform state; retry a failed one with the same
out_refund_no, ask the platform about one in progress, and apply for a rejected order on the staff
member's behalf. Amounts never exceed what was paid: the refund services guarantee it, and every row
shows paid against refunded."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from campuspass.core.errors import CampusPassError
from campuspass.core.money import yuan
from campuspass.renewals.models import Refund, RenewalOrder
from campuspass.renewals.services.refunds import refund_at_counter, refund_request, refund_retry, refund_sync

from .roles import role_required

R = Refund.Status
S = RenewalOrder.Status
PAGE_SIZE = 50

TABS = [
    ("pending", "待提交"),
    ("processing", "退款处理中"),
    ("done", "退款成功"),
    ("failed", "退款失败"),
    ("unrequested", "未申请退款"),
]


def _refunded_subquery(order_ref: str):
    succeeded = (
        Refund.objects.filter(order=OuterRef(order_ref), status=R.SUCCEEDED)
        .values("order")
        .annotate(total=Sum("amount_fen"))
        .values("total")
    )
    return Coalesce(Subquery(succeeded, output_field=IntegerField()), Value(0))


def _tab_querysets():
    refunds = Refund.objects.select_related("order__staff", "requested_by").annotate(
        refunded_fen=_refunded_subquery("order")
    )
    return {
        "pending": refunds.filter(status=R.PENDING).order_by("created_at"),
        "processing": refunds.filter(status=R.PROCESSING).order_by("created_at"),
        "done": refunds.filter(status=R.SUCCEEDED).order_by("-finished_at"),
        "failed": refunds.filter(Q(status=R.FAILED) | Q(order__status=S.REFUND_FAILED)).order_by(
            "created_at"
        ),
        "unrequested": RenewalOrder.objects.filter(status=S.REJECTED)
        .select_related("staff", "decided_by")
        .annotate(refunded_fen=_refunded_subquery("pk"))
        .order_by("decided_at", "pk"),
    }


def _back(request):
    tab = request.POST.get("tab", "")
    url = reverse("backoffice:refunds")
    return redirect(f"{url}?tab={tab}" if tab in dict(TABS) else url)


@role_required("refunds")
@require_GET
def refunds(request):
    querysets = _tab_querysets()
    tab = request.GET.get("tab", "")
    if tab not in querysets:
        tab = "failed" if querysets["failed"].exists() else "pending"
    page = Paginator(querysets[tab], PAGE_SIZE).get_page(request.GET.get("page"))
    for row in page.object_list:
        order = row if tab == "unrequested" else row.order
        row.paid_yuan = yuan(order.paid_amount_fen)
        row.refunded_yuan = yuan(row.refunded_fen)
    tabs = [{"key": key, "label": label, "count": querysets[key].count()} for key, label in TABS]
    return render(
        request,
        "backoffice/refunds/refunds.html",
        {"screen": "refunds", "tab": tab, "tabs": tabs, "page": page},
    )


@role_required("refunds")
@require_POST
def retry(request, pk: int):
    order = get_object_or_404(RenewalOrder, pk=pk)
    try:
        refund = refund_retry(order=order, acting_user=request.user)
    except CampusPassError as exc:
        messages.error(request, exc.message)
    else:
        refund.refresh_from_db()
        messages.success(
            request,
            f"已用原退款单号 {refund.out_refund_no} 重新提交退款 {yuan(refund.amount_fen)} 元"
            f"（当前：{refund.get_status_display()}）。支付平台确认后订单会变为“已退款”。",
        )
    return _back(request)


@role_required("refunds")
@require_POST
def sync(request, pk: int):
    refund = get_object_or_404(Refund, pk=pk)
    try:
        refund = refund_sync(refund_id=refund.pk)
    except CampusPassError as exc:
        messages.error(request, exc.message)
    else:
        if refund.status == R.PROCESSING:
            note = f"（{refund.last_error}）" if refund.last_error else ""
            messages.info(request, f"退款 {refund.out_refund_no} 仍在处理中{note}，请稍后再查询。")
        else:
            messages.success(
                request, f"退款 {refund.out_refund_no} 的最新状态：{refund.get_status_display()}。"
            )
    return _back(request)


@role_required("refunds")
@require_POST
def request_for_staff(request, pk: int):
    order = get_object_or_404(RenewalOrder, pk=pk)
    try:
        refund = refund_request(order=order, acting_user=request.user, reason="保卫处代为申请退款")
    except CampusPassError as exc:
        messages.error(request, f"{order.plate}：{exc.message}")
    else:
        messages.success(
            request,
            f"已为 {order.plate} 申请退款 {yuan(refund.amount_fen)} 元，退款单号 {refund.out_refund_no}。",
        )
    return _back(request)


@role_required("refunds")
@require_POST
def refund_counter(request, pk: int):
    """Cash or card paid at the counter: paid back at the counter and recorded here."""
    order = get_object_or_404(RenewalOrder, pk=pk)
    try:
        refund = refund_at_counter(order=order, acting_user=request.user, note=request.POST.get("note", ""))
    except CampusPassError as exc:
        messages.error(request, f"{order.plate}：{exc.message}")
    else:
        messages.success(
            request, f"已记录 {order.plate} 窗口退款 {yuan(refund.amount_fen)} 元（{refund.out_refund_no}）。"
        )
    return _back(request)
