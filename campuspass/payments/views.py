"""Notification endpoints (payment, refund) and the simulator's cashier page."""

import hashlib
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import Http404, HttpResponseBadRequest, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect, render
from django.utils.module_loading import import_string
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from campuspass.core.net import client_ip

from .models import ReceivedNotification
from .notifications import header_subset
from .providers import NotificationRejected, PaymentProviderError, get_provider
from .providers.base import Notification

logger = logging.getLogger(__name__)
MAX_BODY_BYTES = 64 * 1024
HANDLER_SETTINGS = {"payment": "PAYMENT_NOTIFICATION_HANDLER", "refund": "REFUND_NOTIFICATION_HANDLER"}
EVENT_PREFIXES = {"payment": ("TRANSACTION.",), "refund": ("REFUND.",)}


def _fail(status: int, message: str) -> JsonResponse:
    return JsonResponse({"code": "FAIL", "message": message}, status=status)


def _handler(kind: str):
    path = getattr(settings, HANDLER_SETTINGS[kind], None)
    if not path:
        raise LookupError(f"settings.{HANDLER_SETTINGS[kind]} is not set")
    return import_string(path)


def _refusals_key(request) -> str:
    return f"payments:notify-refused:{client_ip(request)}"


def _flooding(request) -> bool:
    """Whether this address had PAYMENT_NOTIFY_REFUSED_LIMIT refusals in the current window: then it
    is answered 429 at once, with no crypto and no row (the platform's own retries get through again once the window has passed)."""
    limit = int(getattr(settings, "PAYMENT_NOTIFY_REFUSED_LIMIT", 20))
    return (cache.get(_refusals_key(request)) or 0) >= limit


def _count_refusal(request) -> None:
    key = _refusals_key(request)
    window = int(getattr(settings, "PAYMENT_NOTIFY_REFUSED_WINDOW_SECONDS", 600))
    if cache.add(key, 1, timeout=window):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired in between
        cache.add(key, 1, timeout=window)


def _receive(request, kind: str) -> JsonResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if _flooding(request):
        return _fail(429, "请求过多，请稍后重试")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:  # refused before the body is read
        _count_refusal(request)
        ReceivedNotification.objects.create(
            kind=kind,
            headers=header_subset(request.headers),
            body_sha256="",
            verified=False,
            reject_reason="body_too_large",
            reject_message="报文过大",
        )
        return _fail(400, "报文过大")
    body = request.body
    log = {
        "kind": kind,
        "headers": header_subset(request.headers),
        "body_sha256": hashlib.sha256(body).hexdigest(),
    }
    try:
        if len(body) > MAX_BODY_BYTES:
            raise NotificationRejected("body_too_large", "报文过大", status=400)
        # One short transaction verifies (the nonce), records and applies (issue 13): a rejection
        # rolls everything back, nonce included, and leaves only the refusal row written below.
        with transaction.atomic():
            notification = get_provider().verify_notification(request.headers, body)
            if not notification.event_type.startswith(EVENT_PREFIXES[kind]):
                raise NotificationRejected(
                    "wrong_endpoint", f"{notification.event_type} 不应发到此地址", status=400
                )
            notification = Notification(**{**notification.__dict__, "kind": kind})
            failed = _record_and_apply(kind, notification, log)
    except NotificationRejected as exc:
        _count_refusal(request)
        ReceivedNotification.objects.create(
            **log, verified=False, reject_reason=exc.reason_code, reject_message=exc.message[:255]
        )
        logger.warning("payments: %s notification rejected: %s", kind, exc.reason_code)
        return _fail(exc.status, exc.message)
    if failed:  # 5xx: WeChat retries later
        return _fail(500, "处理失败，请稍后重试")
    return JsonResponse({"code": "SUCCESS", "message": "成功"})


def _record_and_apply(kind: str, notification: Notification, log: dict) -> bool:
    """Inside the caller's transaction: the notification's row (a duplicate waits on its lock, then
    sees it applied), then the handler in a savepoint. True when the handler failed."""
    row, created = ReceivedNotification.objects.select_for_update().get_or_create(
        event_id=notification.event_id,
        verified=True,
        defaults={**log, "event_type": notification.event_type, "received_at": notification.received_at},
    )
    if not created:
        row.deliveries += 1
        row.save(update_fields=["deliveries"])
        if row.applied_ok:
            logger.info("payments: duplicate %s %s ignored", kind, notification.event_id)
            return False
    try:
        with transaction.atomic():
            result = _handler(kind)(notification)
    except Exception as exc:
        logger.exception("payments: %s handler failed for %s", kind, notification.event_id)
        row.applied_ok = False
        row.applied_result = f"error: {type(exc).__name__}: {exc}"[:2000]
        row.save(update_fields=["applied_ok", "applied_result"])
        return True
    row.applied_ok = True
    row.applied_result = str(result if result is not None else "ok")[:2000]
    row.save(update_fields=["applied_ok", "applied_result"])
    return False


@csrf_exempt
def notify_payment(request):
    return _receive(request, "payment")


@csrf_exempt
def notify_refund(request):
    return _receive(request, "refund")


# --- the simulator's cashier ---------------------------------------------------------------------


def _simulator_only():
    if settings.PAYMENT_PROVIDER != "simulator":
        raise Http404("模拟支付未启用")


@require_http_methods(["GET", "POST"])
def sim_cashier(request, out_trade_no: str):
    from .simulator import bank

    _simulator_only()
    try:
        tx = bank.get_transaction(out_trade_no)
    except PaymentProviderError as exc:
        raise Http404(exc.message) from None
    return_url = request.GET.get("return_url") or request.POST.get("return_url") or tx.return_url
    if return_url and not bank.is_safe_return_url(return_url):
        return HttpResponseBadRequest(
            "返回地址无效：只允许本站的相对路径。".encode(), content_type="text/plain; charset=utf-8"
        )
    context = {"tx": tx, "yuan": f"{tx.amount_fen / 100:.2f}", "return_url": return_url, "error": ""}
    if request.method == "GET":
        return render(request, "payments/sim_cashier.html", context)
    return _cashier_action(request, tx, return_url, context)


def _cashier_action(request, tx, return_url, context):
    from .simulator import bank

    action = request.POST.get("action")
    if action == "confirm":
        try:
            bank.confirm_payment(tx.out_trade_no)
        except PaymentProviderError as exc:
            context["error"] = exc.message
            return render(request, "payments/sim_cashier.html", context, status=409)
        outcome = "paid"
    elif action == "cancel":
        outcome = "cancelled"  # like WeChat: the order stays unpaid
    else:
        return HttpResponseBadRequest("未知操作".encode(), content_type="text/plain; charset=utf-8")
    if return_url:
        # Like WeChat's cashier telling the page "cancel": the result page says 已取消支付.
        if outcome == "cancelled":
            return_url += ("&" if "?" in return_url else "?") + "cancelled=1"
        return redirect(return_url)
    context.update(tx=bank.get_transaction(tx.out_trade_no), outcome=outcome)
    return render(request, "payments/sim_cashier.html", context)
