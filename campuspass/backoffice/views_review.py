"""审核: the queue of paid orders, one order beside its ID photo, approve / reject, next.

Opening an order claims it for a few minutes (a soft lock that expires by itself; taking it on the
page view is what lets a reviewer open and decide in one step). Decisions are POSTs that go through
renewals.services.review, which re-checks the claim under the row lock."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from campuspass.core.errors import CampusPassError
from campuspass.core.fieldrules import parse_id
from campuspass.core.phones import mask_phone
from campuspass.renewals.models import RejectReason, RenewalOrder
from campuspass.renewals.services.review import (
    AlreadyDecided,
    ClaimedByOther,
    compose_reject_reason,
    order_claim,
    order_release,
    review_approve,
    review_counts,
    review_next,
    review_queue,
    review_reject,
)
from campuspass.verification import documents

from .roles import can, role_required

QUEUE_PAGE = 50  # the earliest 50: reviewers work through 开始审核 (next), the list shows what is coming


def _next_url(after: int | None = None) -> str:
    url = reverse("backoffice:review-next")
    return f"{url}?after={after}" if after else url


@role_required("review")
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    orders = list(review_queue()[:QUEUE_PAGE])
    now = timezone.now()
    rows = [
        {
            "order": o,
            "held_by_other": bool(
                o.claimed_by_id
                and o.claimed_by_id != request.user.pk
                and o.claimed_until
                and o.claimed_until > now
            ),
            "mine": o.claimed_by_id == request.user.pk and o.claimed_until and o.claimed_until > now,
        }
        for o in orders
    ]
    return render(
        request,
        "backoffice/review/queue.html",
        {
            "screen": "review",
            "rows": rows,
            "counts": review_counts(acting_user=request.user),
            "truncated": len(orders) == QUEUE_PAGE,
        },
    )


@role_required("review")
@require_GET
def next_order(request: HttpRequest) -> HttpResponse:
    after = None
    after_pk = parse_id(request.GET.get("after"))
    if after_pk is not None:
        after = RenewalOrder.objects.filter(pk=after_pk).first()
    order = review_next(acting_user=request.user, after=after)
    if order is None:
        if after is not None and after.status == RenewalOrder.Status.PAID:
            messages.info(request, "没有其他可审核的订单了。")
            return redirect("backoffice:review-order", pk=after.pk)
        messages.success(request, "待审核订单已全部处理完毕。")
        return redirect("backoffice:review")
    return redirect("backoffice:review-order", pk=order.pk)


@role_required("review")
@require_GET
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    shown = RenewalOrder.objects.select_related(
        "staff", "vehicle", "campaign", "previous_pass", "new_pass", "decided_by", "claimed_by", "id_photo"
    )
    order = get_object_or_404(shown, pk=pk)
    claim_error = ""
    if order.status == RenewalOrder.Status.PAID:
        try:
            claimed = order_claim(order=order, acting_user=request.user)
        except ClaimedByOther as exc:
            claim_error = exc.message
            order = get_object_or_404(shown, pk=pk)  # as it is now, with the holder's claim
        except AlreadyDecided:
            order = get_object_or_404(shown, pk=pk)  # decided meanwhile: as it is now
        else:  # the claim is this reviewer's: the row read above, with the claim as saved
            order.claimed_by, order.claimed_until = request.user, claimed.claimed_until
    decidable = order.status == RenewalOrder.Status.PAID and not claim_error
    photo_deleted = order.id_photo is None or order.id_photo.deleted
    return render(
        request,
        "backoffice/review/order.html",
        {
            "screen": "review",
            "order": order,
            "masked_phone": mask_phone(order.staff.mobile),
            "decidable": decidable,
            "claim_error": claim_error,
            "reasons": RejectReason.objects.filter(active=True),
            "photo_deleted": photo_deleted,
            "can_photo": can(request.user, "photo"),
            "counts": review_counts(acting_user=request.user, held=False),  # the page shows two
            "next_url": _next_url(order.pk),
        },
    )


def _decide(request: HttpRequest, pk: int, decide) -> HttpResponse:
    order = get_object_or_404(RenewalOrder, pk=pk)
    try:
        decided = decide(order)
    except AlreadyDecided as exc:
        messages.warning(request, exc.message)
        return redirect(_next_url())
    except ClaimedByOther as exc:
        messages.error(request, exc.message)
        return redirect(_next_url(order.pk))
    except CampusPassError as exc:
        messages.error(request, exc.message)
        return redirect("backoffice:review-order", pk=order.pk)
    if decided.status == RenewalOrder.Status.APPROVED:
        done = f"已审核通过：{decided.plate} {decided.staff.name}，已短信通知职工。"
    else:
        done = f"已审核不通过：{decided.plate} {decided.staff.name}，原因和退款办法已短信通知职工。"
    messages.success(request, done)
    return redirect(_next_url())


@role_required("review")
@require_POST
def approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, lambda order: review_approve(order=order, acting_user=request.user))


@role_required("review")
@require_POST
def reject(request: HttpRequest, pk: int) -> HttpResponse:
    reason = compose_reject_reason(
        reason_ids=request.POST.getlist("reason"), note=request.POST.get("note", "")
    )
    return _decide(
        request, pk, lambda order: review_reject(order=order, acting_user=request.user, reason=reason)
    )


@role_required("review")
@require_POST
def release(request: HttpRequest, pk: int) -> HttpResponse:
    """Give the order back; `then=next` goes on to the next order (skip), otherwise to the queue."""
    order = get_object_or_404(RenewalOrder, pk=pk)
    order_release(order=order, acting_user=request.user)
    if request.POST.get("then") == "next":
        return redirect(_next_url(order.pk))
    return redirect("backoffice:review")


@role_required("photo")
@require_GET
def order_photo(request: HttpRequest, pk: int) -> HttpResponse:
    """The uploaded ID photo (the photo service checks the role and audits the view)."""
    order = get_object_or_404(RenewalOrder.objects.select_related("id_photo"), pk=pk)
    try:
        return documents.view(order.id_photo, viewer=request.user, where="backoffice.review")
    except CampusPassError as exc:
        raise Http404("证件照片已按保留期限删除。") from exc
