"""The simulator's side of WeChat Pay: orders, refunds and the notifications it sends about them.

Notifications are signed and encrypted exactly like the real ones and POSTed over HTTP to the
notify_url, outside the request that caused them (a django-tasks task enqueued on commit), retried on
WeChat's schedule (compressed by PAYMENT_SIMULATOR_TIME_SCALE) until a 2xx comes back.
"""

import datetime as dt
import json
import logging
import secrets
import time
import uuid
from zoneinfo import ZoneInfo

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from ..crypto import aes_gcm_encrypt, random_string, sign_message
from ..models import SimNotification, SimRefund, SimTransaction
from ..providers.base import PaymentProviderError
from .keys import get_faults, get_keys

logger = logging.getLogger(__name__)
SHANGHAI = ZoneInfo("Asia/Shanghai")
# WeChat Pay's notification retry intervals (seconds) after a failed attempt.
RETRY_SCHEDULE = [15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600]
DELAY_FAULT_SECONDS = 60  # "delay": the first attempt is held this long
REORDER_HOLD_SECONDS = 30  # "reorder": notifications wait this long, then go out newest first
REFUND_SETTLE_SECONDS = 10  # refunds stay PROCESSING about this long
CLAIM_SECONDS = 60  # an attempt in progress holds the row this long (longer than the HTTP timeout)
HTTP_TIMEOUT = (3, 5)
SIM_APPID = "wx00000000simulator"
SIM_MCHID = "1900000000"


def scaled(seconds: float) -> dt.timedelta:
    scale = float(getattr(settings, "PAYMENT_SIMULATOR_TIME_SCALE", 1) or 1)
    return dt.timedelta(seconds=seconds / max(scale, 1e-6))


def sim_appid() -> str:
    return settings.WECHATPAY_APPID or SIM_APPID


def sim_mchid() -> str:
    return settings.WECHATPAY_MCHID or SIM_MCHID


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(SHANGHAI).isoformat(timespec="seconds")


def is_safe_return_url(url: str) -> bool:
    """Only same-site relative paths: "/x", never "//host", "/\\host", "http:…" or "javascript:…"."""
    return (
        bool(url)
        and url.startswith("/")
        and not url.startswith(("//", "/\\"))
        and url_has_allowed_host_and_scheme(url, allowed_hosts=None)
    )


def _digits(n: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(n))


def _new_transaction_id() -> str:
    return "4200" + timezone.localtime().strftime("%Y%m%d") + _digits(16)


# --- orders --------------------------------------------------------------------------------------


def create_transaction(
    *, out_trade_no, description, amount_fen, openid, notify_url, expire_at, return_url=None
) -> SimTransaction:
    """Place an order. Like WeChat Pay, an out_trade_no may be placed again only with exactly the
    same parameters (description, amount, payer, notify_url and time_expire): anything else is
    refused with OUT_TRADE_NO_USED, and a closed or paid order is never placed again."""
    if amount_fen <= 0:
        raise PaymentProviderError("订单金额必须大于 0。", code="PARAM_ERROR")
    if not description or len(description) > 127:
        raise PaymentProviderError("商品描述不能为空且不能超过 127 个字符。", code="PARAM_ERROR")
    if return_url and not is_safe_return_url(return_url):
        raise PaymentProviderError("返回地址必须是本站的相对路径。", code="PARAM_ERROR")
    expire_at = expire_at.replace(microsecond=0) if expire_at else None
    with transaction.atomic():
        tx = SimTransaction.objects.select_for_update().filter(out_trade_no=out_trade_no).first()
        if tx is not None:
            if tx.state in {"SUCCESS", "REFUND"}:
                raise PaymentProviderError("该订单已支付。", code="ORDERPAID")
            _expire_if_due(tx)
            if tx.state == "CLOSED":
                raise PaymentProviderError("该订单已关闭，请使用新的商户订单号下单。", code="ORDER_CLOSED")
            sent = {
                "description": description,
                "amount": amount_fen,
                "openid": openid,
                "notify_url": notify_url,
                "time_expire": rfc3339(expire_at) if expire_at else "",
            }
            kept = {
                "description": tx.description,
                "amount": tx.amount_fen,
                "openid": tx.openid,
                "notify_url": tx.notify_url,
                "time_expire": rfc3339(tx.expire_at) if tx.expire_at else "",
            }
            changed = sorted(name for name in sent if sent[name] != kept[name])
            if changed:
                raise PaymentProviderError(
                    f"商户订单号重复，且参数与首次下单不一致（{', '.join(changed)}）。",
                    code="OUT_TRADE_NO_USED",
                )
            if return_url and return_url != tx.return_url:  # the simulator's own page, not WeChat's
                tx.return_url = return_url
                tx.save(update_fields=["return_url"])
            return tx
        return SimTransaction.objects.create(
            out_trade_no=out_trade_no,
            appid=sim_appid(),
            mchid=sim_mchid(),
            description=description,
            amount_fen=amount_fen,
            openid=openid,
            notify_url=notify_url,
            return_url=return_url or "",
            expire_at=expire_at,
            prepay_id="wx" + timezone.localtime().strftime("%d%H%M%S") + random_string(24),
        )


def _expire_if_due(tx: SimTransaction) -> None:
    if tx.state == "NOTPAY" and tx.expire_at and tx.expire_at <= timezone.now():
        tx.state = "CLOSED"
        tx.save(update_fields=["state"])


def get_transaction(out_trade_no: str) -> SimTransaction:
    with transaction.atomic():
        tx = SimTransaction.objects.select_for_update().filter(out_trade_no=out_trade_no).first()
        if tx is None:
            raise PaymentProviderError("订单不存在。", code="ORDER_NOT_EXIST")
        _expire_if_due(tx)
        return tx


def close_transaction(out_trade_no: str) -> None:
    """WeChat's close: ORDERPAID for a paid order, ORDER_CLOSED for one already closed (by us or by
    time_expire), ORDER_NOT_EXIST for an unknown one."""
    with transaction.atomic():
        tx = get_transaction(out_trade_no)
        if tx.state in {"SUCCESS", "REFUND"}:
            raise PaymentProviderError("订单已支付，不能关闭。", code="ORDERPAID")
        if tx.state == "CLOSED":
            raise PaymentProviderError("订单已关闭，无需重复关闭。", code="ORDER_CLOSED")
        tx.state = "CLOSED"
        tx.save(update_fields=["state"])


@transaction.atomic
def confirm_payment(out_trade_no: str) -> SimTransaction:
    """The payer pressed 确认支付: mark paid and queue TRANSACTION.SUCCESS. Raises PaymentProviderError."""
    tx = get_transaction(out_trade_no)
    if tx.state in {"SUCCESS", "REFUND"}:
        return tx  # pressing twice pays once
    if tx.state == "CLOSED":
        raise PaymentProviderError("订单已关闭或已过期，不能支付。", code="ORDER_CLOSED")
    tx.state = "SUCCESS"
    tx.transaction_id = _new_transaction_id()
    tx.success_time = timezone.now().replace(microsecond=0)
    tx.save(update_fields=["state", "transaction_id", "success_time"])
    resource = {
        "appid": tx.appid,
        "mchid": tx.mchid,
        "out_trade_no": tx.out_trade_no,
        "transaction_id": tx.transaction_id,
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "attach": "",
        "success_time": rfc3339(tx.success_time),
        "payer": {"openid": tx.openid},
        "amount": {
            "total": tx.amount_fen,
            "payer_total": tx.amount_fen,
            "currency": "CNY",
            "payer_currency": "CNY",
        },
    }
    queue_notification(
        kind="payment",
        url=tx.notify_url,
        event_type="TRANSACTION.SUCCESS",
        summary="支付成功",
        original_type="transaction",
        resource=resource,
    )
    return tx


# --- refunds -------------------------------------------------------------------------------------


@transaction.atomic
def request_refund(*, out_trade_no, out_refund_no, amount_fen, total_fen, reason, notify_url) -> SimRefund:
    """WeChat's rules: idempotent per out_refund_no, paid orders only, never more than was paid."""
    existing = SimRefund.objects.filter(out_refund_no=out_refund_no).first()
    if existing is not None:
        if existing.out_trade_no != out_trade_no or existing.amount_fen != amount_fen:
            raise PaymentProviderError("退款单号已用于另一笔退款。", code="PARAM_ERROR")
        return existing
    tx = SimTransaction.objects.select_for_update().filter(out_trade_no=out_trade_no).first()
    # WeChat answers an unknown and an unpaid order alike: RESOURCE_NOT_EXISTS (refund API, error table).
    if tx is None or tx.state not in {"SUCCESS", "REFUND"}:
        raise PaymentProviderError("订单号不存在或订单未支付，不能退款。", code="RESOURCE_NOT_EXISTS")
    if len(reason or "") > 80:
        raise PaymentProviderError("退款原因不能超过 80 个字符。", code="PARAM_ERROR")
    if total_fen != tx.amount_fen:
        raise PaymentProviderError("订单金额与原订单不符。", code="PARAM_ERROR")
    if amount_fen <= 0:
        raise PaymentProviderError("退款金额必须大于 0。", code="PARAM_ERROR")
    refunded = (
        SimRefund.objects.filter(out_trade_no=out_trade_no)
        .exclude(status="CLOSED")
        .aggregate(s=Sum("amount_fen"))["s"]
        or 0
    )
    if refunded + amount_fen > tx.amount_fen:
        raise PaymentProviderError(
            f"退款金额超过订单可退金额（已退 {refunded} 分，本次 {amount_fen} 分，实付 {tx.amount_fen} 分）。",
            code="INVALID_REQUEST",
        )
    refund = SimRefund.objects.create(
        out_refund_no=out_refund_no,
        refund_id="50" + _digits(30),
        out_trade_no=out_trade_no,
        transaction_id=tx.transaction_id,
        amount_fen=amount_fen,
        total_fen=tx.amount_fen,
        reason=reason or "",
        notify_url=notify_url or "",
    )
    transaction.on_commit(lambda: _schedule_settlement(out_refund_no))
    return refund


@transaction.atomic
def settle_refund(out_refund_no: str) -> SimRefund:
    """PROCESSING → SUCCESS, or ABNORMAL (fault refund_fail: e.g. the payer's card was cancelled) or
    CLOSED (fault refund_closed: closed by the platform), and queue its notification."""
    refund = SimRefund.objects.select_for_update().get(out_refund_no=out_refund_no)
    if refund.status != "PROCESSING":
        return refund
    faults = get_faults()
    failed = "refund_fail" in faults or "refund_closed" in faults
    refund.status = "CLOSED" if "refund_closed" in faults else "ABNORMAL" if failed else "SUCCESS"
    if not failed:
        refund.success_time = timezone.now().replace(microsecond=0)
        SimTransaction.objects.filter(out_trade_no=refund.out_trade_no).update(state="REFUND")
    refund.save(update_fields=["status", "success_time"])
    if refund.notify_url:
        resource = {
            "mchid": sim_mchid(),
            "out_trade_no": refund.out_trade_no,
            "transaction_id": refund.transaction_id,
            "out_refund_no": refund.out_refund_no,
            "refund_id": refund.refund_id,
            "refund_status": refund.status,
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": refund.total_fen,
                "refund": refund.amount_fen,
                "payer_total": refund.total_fen,
                "payer_refund": refund.amount_fen,
            },
        }
        if refund.success_time:
            resource["success_time"] = rfc3339(refund.success_time)
        queue_notification(
            kind="refund",
            url=refund.notify_url,
            event_type=f"REFUND.{refund.status}",
            summary={"SUCCESS": "退款成功", "ABNORMAL": "退款异常", "CLOSED": "退款关闭"}[refund.status],
            original_type="refund",
            resource=resource,
        )
    return refund


def settle_due_refunds() -> int:
    due = SimRefund.objects.filter(
        status="PROCESSING", created_at__lte=timezone.now() - scaled(REFUND_SETTLE_SECONDS)
    )
    count = 0
    for out_refund_no in due.values_list("out_refund_no", flat=True):
        settle_refund(out_refund_no)
        count += 1
    return count


def _schedule_settlement(out_refund_no: str) -> None:
    from .tasks import settle_refund_task

    _enqueue(
        settle_refund_task,
        timezone.now() + scaled(REFUND_SETTLE_SECONDS),
        out_refund_no,
        now_if_no_defer=True,
    )


# --- notifications -------------------------------------------------------------------------------


def build_body(*, event_type, summary, original_type, resource) -> tuple[str, str]:
    """The v3 notification envelope with the resource AES-GCM encrypted: (event id, JSON body)."""
    keys = get_keys()
    nonce = random_string(12)
    event_id = str(uuid.uuid4())
    envelope = {
        "id": event_id,
        "create_time": rfc3339(timezone.now()),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": summary,
        "resource": {
            "original_type": original_type,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": aes_gcm_encrypt(
                keys.apiv3_key,
                json.dumps(resource, ensure_ascii=False),
                nonce=nonce,
                associated_data=original_type,
            ),
            "associated_data": original_type,
            "nonce": nonce,
        },
    }
    return event_id, json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))


def signing_serial() -> str:
    """The serial the simulator signs with: its public key ID, or (PAYMENT_SIMULATOR_SIGNATURE_MODE
    = certificate) the serial of its platform certificate, as merchants on certificates see."""
    keys = get_keys()
    if getattr(settings, "PAYMENT_SIMULATOR_SIGNATURE_MODE", "public_key") == "certificate":
        return keys.cert_serial
    return keys.serial


def signed_headers(body: str) -> dict[str, str]:
    keys = get_keys()
    timestamp, nonce = str(int(time.time())), random_string(32)
    return {
        "Content-Type": "application/json",
        "User-Agent": "Mozilla/4.0 CampusPass-PaySim",
        "Wechatpay-Serial": signing_serial(),
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": sign_message(keys.private_key, timestamp, nonce, body),
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }


def queue_notification(*, kind, url, event_type, summary, original_type, resource) -> list[SimNotification]:
    """Store the notification (twice with "duplicate") and have it delivered after commit."""
    faults = get_faults()
    event_id, body = build_body(
        event_type=event_type, summary=summary, original_type=original_type, resource=resource
    )
    now = timezone.now()
    first_attempt = now
    if "delay" in faults:
        first_attempt = now + scaled(DELAY_FAULT_SECONDS)
    if "reorder" in faults:
        first_attempt = max(first_attempt, now + scaled(REORDER_HOLD_SECONDS))
    dropped = "drop" in faults
    copies = 2 if "duplicate" in faults else 1
    rows = [
        SimNotification.objects.create(
            kind=kind,
            event_id=event_id,
            event_type=event_type,
            url=url,
            body=body,
            dropped=dropped,
            next_attempt_at=None if dropped else first_attempt,
        )
        for _ in range(copies)
    ]
    # Held "reorder" notifications are left to deliver_due_notifications, which sends newest first.
    if not dropped and "reorder" not in faults:
        ids = [row.pk for row in rows]
        transaction.on_commit(lambda: _schedule_delivery(ids, first_attempt))
    return rows


def _enqueue(task, run_after: dt.datetime, *args, now_if_no_defer: bool = False) -> None:
    """Run the task after `run_after` where the backend can defer (the database backend in
    development). Otherwise (the immediate backend in tests) run it now if it is due, or if
    `now_if_no_defer`; `deliver_due_notifications` (scheduled) picks up the rest."""
    backend = task.get_backend()
    try:
        if run_after > timezone.now() + dt.timedelta(seconds=1):
            if backend.supports_defer:
                task.using(run_after=run_after).enqueue(*args)
            elif now_if_no_defer:
                task.enqueue(*args)
            return
        task.enqueue(*args)
    except Exception:
        logger.exception("paysim: could not enqueue %s", getattr(task, "name", task))


def _schedule_delivery(ids: list[int], first_attempt: dt.datetime) -> None:
    from .tasks import deliver_notification_task

    for pk in ids:
        _enqueue(deliver_notification_task, first_attempt, pk)


def attempt_delivery(pk: int) -> bool | None:
    """One attempt at a due notification: True delivered, False failed (retry scheduled), None not due
    or taken by another worker. No database transaction is held over the HTTP request (the receiver
    writes to the same database)."""
    now = timezone.now()
    claimed = SimNotification.objects.filter(
        pk=pk, acknowledged=False, dropped=False, next_attempt_at__lte=now
    ).update(next_attempt_at=now + dt.timedelta(seconds=CLAIM_SECONDS))
    if not claimed:
        return None
    notification = SimNotification.objects.get(pk=pk)
    ok = _post(notification)
    if not ok:
        attempts = notification.attempts
        if attempts <= len(RETRY_SCHEDULE):
            notification.next_attempt_at = timezone.now() + scaled(RETRY_SCHEDULE[attempts - 1])
        else:
            notification.next_attempt_at = None  # WeChat gives up after the last retry
        notification.save(update_fields=["next_attempt_at"])
        from .tasks import deliver_notification_task

        if notification.next_attempt_at:
            _enqueue(deliver_notification_task, notification.next_attempt_at, pk)
    return ok


def _post(notification: SimNotification, headers: dict | None = None) -> bool:
    """POST the stored body (freshly signed unless headers are given) and record the outcome."""
    headers = headers or signed_headers(notification.body)
    status, error = None, ""
    try:
        response = requests.post(
            notification.url, data=notification.body.encode(), headers=headers, timeout=HTTP_TIMEOUT
        )
        status = response.status_code
        if not 200 <= status < 300:
            error = response.text[:500]
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    ok = status is not None and 200 <= status < 300
    notification.attempts += 1
    notification.last_headers = headers
    notification.last_status = status
    notification.last_error = error
    fields = ["attempts", "last_headers", "last_status", "last_error"]
    if ok and not notification.acknowledged:
        notification.acknowledged = True
        notification.acknowledged_at = timezone.now()
        notification.next_attempt_at = None
        fields += ["acknowledged", "acknowledged_at", "next_attempt_at"]
    notification.save(update_fields=fields)
    logger.info(
        "paysim: %s #%s → %s %s", notification.event_type, notification.pk, status, "ok" if ok else "retry"
    )
    return ok


def deliver_due_notifications() -> int:
    """Settle due refunds, then send every notification that is due (newest first with "reorder");
    the number delivered. Schedule it every few seconds next to the worker."""
    settle_due_refunds()
    due = SimNotification.objects.filter(
        acknowledged=False, dropped=False, next_attempt_at__lte=timezone.now()
    )
    order = "-id" if "reorder" in get_faults() else "id"
    delivered = 0
    for pk in list(due.order_by(order).values_list("pk", flat=True)):
        if attempt_delivery(pk):
            delivered += 1
    return delivered


def replay(pk: int, *, raw: bool = False) -> int | None:
    """Send a stored notification again, exactly: re-signed now, or with its last headers (raw).
    Returns the HTTP status (None when unreachable)."""
    notification = SimNotification.objects.get(pk=pk)
    if raw and not notification.last_headers:
        raise ValueError("该通知从未发送过，没有可重放的原始请求头")
    _post(notification, headers=dict(notification.last_headers) if raw else None)
    return notification.last_status
