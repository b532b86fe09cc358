"""退款管理: money without a live order that must go back (refunded in one step along its route),
refunds by state with their platform state; retry a failed one with the same out_refund_no, start
a closed one again with a new one, record the offline payout of an abnormal one, ask the platform
about one in progress, and apply for a rejected order on the staff member's behalf. What each row
offers comes from `refund_route`. Amounts never exceed what was paid: the refund services guarantee
it, and every row shows paid against refunded."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.db.models import Exists, IntegerField, OuterRef, Prefetch, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from campuspass.core.errors import CampusPassError
from campuspass.core.money import yuan
from campuspass.core.paging import count_each, page_by_ids
from campuspass.renewals.models import Payment, Refund, RenewalOrder
from campuspass.renewals.selectors_reconcile import reconciliation_day
from campuspass.renewals.services.ledger import unclaimed_payments
from campuspass.renewals.services.payment_alerts import (
    alert_handled,
    alert_retry,
    alert_rows,
    open_alerts,
    open_bill_alerts,
)
from campuspass.renewals.services.refunds import (
    PAY_OUT_HOWS,
    order_refund_route,
    refund_at_counter,
    refund_pay_out,
    refund_payment,
    refund_request,
    refund_retry,
    refund_route,
    refund_sync,
)

from .roles import role_required

R = Refund.Status
S = RenewalOrder.Status
PAGE_SIZE = 50
# Tab badges count up to 999 ("999+"); the open tab (and, when none is asked for, the ones that may
# open) up to 10,000 for its pages, as CappedPaginator does. All seven in one statement, each an index
# range read in the tab's own order, and the open tab is not counted again for its pages (issue 13).
TAB_CAP = 999
OPEN_TAB_CAP = 10_000

TABS = [
    ("attention", "需要处理"),
    ("unclaimed", "待处理款项"),
    ("pending", "待提交"),
    ("processing", "退款处理中"),
    ("done", "退款成功"),
    ("failed", "退款失败/关闭/异常"),
    ("unrequested", "未申请退款"),
]


def _refunded_subquery(payment_ref: str):
    done = (
        Refund.objects.filter(payment=OuterRef(payment_ref), status__in=Refund.DONE_STATUSES)
        .values("payment")
        .annotate(total=Sum("amount_fen"))
        .values("total")
    )
    return Coalesce(Subquery(done, output_field=IntegerField()), Value(0))


def _tab_querysets():
    refunds = Refund.objects.select_related("order__staff", "payment__campaign", "requested_by").annotate(
        refunded_fen=_refunded_subquery("payment")
    )
    # A closed refund needs action until another refund of the same payment is live or done.
    later = Refund.objects.filter(
        payment=OuterRef("payment"), status__in=[*Refund.LIVE_STATUSES, *Refund.DONE_STATUSES]
    )
    applied = Prefetch(
        "payments", queryset=Payment.objects.filter(state=Payment.State.APPLIED).select_related("campaign")
    )
    return {
        # WeChat Pay answers that need a person (decision 0035), with the meaning and what to do.
        "attention": open_alerts(),
        "unclaimed": unclaimed_payments().annotate(refunded_fen=_refunded_subquery("pk")),
        "pending": refunds.filter(status=R.PENDING).order_by("created_at"),
        "processing": refunds.filter(status=R.PROCESSING).order_by("created_at"),
        "done": refunds.filter(status__in=Refund.DONE_STATUSES).order_by("-finished_at", "-pk"),
        "failed": refunds.filter(status__in=[R.FAILED, R.ABNORMAL, R.CLOSED])  # refund_failed_idx, in order
        .filter(Q(status__in=[R.FAILED, R.ABNORMAL]) | (Q(status=R.CLOSED) & ~Exists(later)))
        .order_by("created_at", "pk"),
        "unrequested": RenewalOrder.objects.filter(status=S.REJECTED)
        .select_related("staff", "decided_by", "campaign")
        .prefetch_related(applied)
        .order_by("decided_at", "pk"),
    }


def _back(request):
    day = request.POST.get("reconcile_day", "")
    if day:  # came from the 对账 screen's day: back to it, or to the list when the day has nothing to show
        try:
            parsed = dt.date.fromisoformat(day)
        except ValueError:
            return redirect("backoffice:reconcile")
        if reconciliation_day(parsed) is None and parsed not in open_bill_alerts():
            return redirect("backoffice:reconcile")
        return redirect("backoffice:reconcile-day", parsed.isoformat())
    tab = request.POST.get("tab", "")
    url = reverse("backoffice:refunds")
    return redirect(f"{url}?tab={tab}" if tab in dict(TABS) else url)


@role_required("refunds")
@require_GET
def refunds(request):
    querysets = _tab_querysets()
    tab = request.GET.get("tab", "")
    chosen = tab in querysets
    caps = {key: OPEN_TAB_CAP if key == tab else TAB_CAP for key in querysets}
    if not chosen:  # the first of these with rows is opened: count them far enough to page it
        caps.update(attention=OPEN_TAB_CAP, unclaimed=OPEN_TAB_CAP, failed=OPEN_TAB_CAP, pending=OPEN_TAB_CAP)
    counts = count_each(querysets, caps)
    if not chosen:
        tab = next((t for t in ("attention", "unclaimed", "failed") if counts[t].count), "pending")
    page = page_by_ids(querysets[tab], request.GET.get("page"), PAGE_SIZE, count=counts[tab])
    if tab == "attention":
        page.object_list = alert_rows(page.object_list)
    for row in page.object_list:
        if tab == "attention":
            continue
        if tab == "unrequested":
            row.route = order_refund_route(row)
            row.paid_yuan = yuan(row.paid_amount_fen)
            row.refunded_yuan = "0.00"
        elif tab == "unclaimed":
            row.route = refund_route(row)
            row.paid_yuan = yuan(row.amount_fen)
            row.refunded_yuan = yuan(row.refunded_fen)
        else:
            row.route = refund_route(row.payment)
            row.paid_yuan = yuan(row.payment.amount_fen)
            row.refunded_yuan = yuan(row.refunded_fen)
    tabs = [
        {"key": key, "label": label, "count": counts[key].count, "more": counts[key].capped}
        for key, label in TABS
    ]
    return render(
        request,
        "backoffice/refunds/refunds.html",
        {"screen": "refunds", "tab": tab, "tabs": tabs, "page": page, "pay_out_hows": PAY_OUT_HOWS.items()},
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


@role_required("refunds")
@require_POST
def refund_unclaimed(request, pk: int):
    """Money without a live order (paid after close, paid twice): back along its route in one step."""
    payment = get_object_or_404(Payment, pk=pk, state=Payment.State.UNCLAIMED)
    try:
        refund = refund_payment(
            payment=payment,
            acting_user=request.user,
            reason="重复或逾期付款退回",
            note=request.POST.get("note", ""),
            reference=request.POST.get("note", ""),
        )
    except CampusPassError as exc:
        messages.error(request, exc.message)
    else:
        done = "已退回" if refund.status == R.SUCCEEDED else "已提交退款，支付平台确认后完成"
        messages.success(
            request,
            f"{payment.get_method_display()} {payment.reference} 的 {yuan(refund.amount_fen)} 元{done}"
            f"（退款单号 {refund.out_refund_no}）。",
        )
    return _back(request)


@role_required("refunds")
@require_POST
def pay_out(request, pk: int):
    """An abnormal refund paid back outside the platform: how, the reference, recorded with who."""
    refund = get_object_or_404(Refund, pk=pk)
    try:
        refund = refund_pay_out(
            refund=refund,
            acting_user=request.user,
            how=request.POST.get("how", ""),
            reference=request.POST.get("reference", ""),
            note=request.POST.get("note", ""),
        )
    except CampusPassError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"已登记退款 {refund.out_refund_no} 线下退款完成（{PAY_OUT_HOWS[refund.settled_how]}，"
            f"凭证 {refund.settled_reference}）。",
        )
    return _back(request)


@role_required("refunds")
@require_POST
def alert_done(request, pk: int):
    """需要处理 → 已处理: finance dealt with the cause (audited); the scheduled job resumes."""
    try:
        alert = alert_handled(alert_id=pk, acting_user=request.user, note=request.POST.get("note", ""))
    except CampusPassError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"已标记为已处理：{alert.get_call_display()} {alert.key}（{alert.code}）。")
    return _back(request)


@role_required("refunds")
@require_POST
def alert_again(request, pk: int):
    """需要处理 → 重试: after fixing the cause, the call is sent again now (audited)."""
    try:
        result = alert_retry(alert_id=pk, acting_user=request.user)
    except CampusPassError as exc:
        messages.error(request, exc.message)
    else:
        messages.info(request, result)
    return _back(request)
