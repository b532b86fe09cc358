"""Where the renewal core meets the payment provider: starting a payment, learning the truth about it
(notification or query), and closing what was never paid. The provider knows nothing of orders; the
order services below decide what a platform answer means for an order.

Never relying on the notification alone: the staff member's return from payment and a periodic job
both query the provider, and an unpaid order is queried once more before it is closed, so a payment
whose notification was lost still ends in a paid order."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from campuspass.core.audit import log_action
from campuspass.core.errors import CampusPassError
from campuspass.payments import outcomes
from campuspass.payments.errors import Reaction
from campuspass.payments.models import PaymentTerms
from campuspass.payments.notifications import check_payment_resource, check_refund_resource, parse_time
from campuspass.payments.providers import (
    JsapiPayment,
    Notification,
    PaymentProviderError,
    TradeState,
    get_provider,
)
from campuspass.payments.terms import UNREAD, freeze_terms, frozen_expiry, stored_terms

from ..models import Payment, Refund, RenewalOrder
from ..transitions import lock
from .orders import PaymentMismatch, new_out_trade_no, order_close, order_mark_paid
from .refunds import refund_apply_result

logger = logging.getLogger(__name__)
S = RenewalOrder.Status
# An unpaid order is first queried this long after it was created (the notification usually comes
# within seconds; asking earlier only adds load).
QUERY_AFTER = dt.timedelta(minutes=1)
# The staff member's return from paying (result and order pages): the platform is asked only once
# the notification is this late after 立即支付, then at most once per interval per order (0042).
RESULT_QUERY_DELAY_SECONDS = 5
RESULT_QUERY_INTERVAL_SECONDS = 5


def notify_url(kind: str) -> str:
    return settings.SITE_URL + reverse(f"payments:notify_{kind}")


def expires_at(order: RenewalOrder, *, frozen: dt.datetime | None | object = UNREAD) -> dt.datetime:
    """The time_expire WeChat Pay was given for this order (frozen the first time it was sent), else
    the one the campaign's timeout gives now. `frozen`: the stored time_expire (or None), when the
    caller has just read the terms."""
    if frozen is UNREAD:
        frozen = frozen_expiry(order.out_trade_no)
    if frozen is not None:
        return frozen
    return (order.created_at + dt.timedelta(minutes=order.campaign.unpaid_timeout_minutes)).replace(
        microsecond=0
    )


def payment_start(
    *, order: RenewalOrder, openid: str = "", return_url: str | None = None, fresh: bool = False
) -> JsapiPayment:
    """ "立即支付": place the order with the provider (the same out_trade_no every time, so the
    platform can never take two payments for one order) and return what the page needs. Raises
    CampusPassError when the order cannot be paid, PaymentProviderError when the platform refuses.
    `fresh`: the caller has just read the order with its campaign and staff (not read again)."""
    if not fresh:
        order = RenewalOrder.objects.select_related("campaign", "staff").get(pk=order.pk)
    if order.status == S.AWAITING_CONSENT:
        raise CampusPassError("请先阅读并同意《知情同意书》，再进行支付。", code="consent_required")
    if order.status != S.PENDING_PAYMENT:
        raise CampusPassError(
            f"该订单当前状态为“{order.status_label}”，无需支付。请在“订单记录”中查看。", code="not_payable"
        )
    # The terms are read once: they give the deadline and, when frozen already, what is sent again.
    stored = stored_terms(order.out_trade_no)
    deadline = expires_at(order, frozen=stored.time_expire if stored is not None else None)
    if timezone.now() >= deadline:
        payment_expire(order=order)
        raise CampusPassError(
            f"订单超过 {order.campaign.unpaid_timeout_minutes} 分钟未支付，已自动关闭。请重新提交订单。",
            code="order_expired",
        )
    try:
        payment = _send_frozen_terms(
            order, openid=openid, deadline=deadline, return_url=return_url, stored=stored
        )
        hold_result_query(order.out_trade_no)
        return payment
    except PaymentProviderError as exc:  # (a CampusPassError too: caught first)
        if exc.code != "OUT_TRADE_NO_USED":
            raise
        reason = "微信支付上该商户订单号的参数与本系统记录不同"
    except CampusPassError as exc:
        if exc.code != "payer_changed":
            raise
        reason = "付款人的微信账号与首次发起支付时不同"
    # The terms of an out_trade_no can never change: close it and start a new one (decision 0010).
    order = payment_restart(order=order, reason=reason)
    payment = _send_frozen_terms(order, openid=openid, deadline=deadline, return_url=return_url)
    hold_result_query(order.out_trade_no)
    return payment


def _send_frozen_terms(
    order: RenewalOrder,
    *,
    openid: str,
    deadline: dt.datetime,
    return_url: str | None,
    stored: PaymentTerms | None | object = UNREAD,
) -> JsapiPayment:
    # The first send freezes the terms; every later press resends exactly those (decision 0010).
    terms = freeze_terms(
        out_trade_no=order.out_trade_no,
        description=order.campaign.product_name,
        amount_fen=order.amount_fen,
        time_expire=deadline,
        notify_url=notify_url("payment"),
        openid=openid,
        stored=stored,
    )
    try:
        payment = get_provider().create_jsapi(
            out_trade_no=order.out_trade_no,
            description=terms.description,
            amount_fen=terms.amount_fen,
            openid=terms.payer_openid,
            notify_url=terms.notify_url,
            expire_at=terms.time_expire,
            return_url=return_url,
        )
    except PaymentProviderError as exc:
        # A person pressed the button: no backoff to keep, but a FINANCE answer reaches finance.
        outcomes.failed("jsapi", order.out_trade_no, exc, trade_no=order.out_trade_no, backoff=False)
        raise
    logger.info("payment started for order %s", order.pk)
    return payment


def payment_restart(*, order: RenewalOrder, reason: str) -> RenewalOrder:
    """Close the order's out_trade_no on the platform and give the order a new one, for when the
    payment terms must change (WeChat never lets them change for one out_trade_no). The order's
    deadline stays as it was. Raises CampusPassError when the old one cannot be closed (it may still
    be paid) or turns out to be paid (then the order is paid)."""
    old = order.out_trade_no
    try:
        get_provider().close(old)
    except PaymentProviderError as exc:
        answer = outcomes.failed("close", old, exc, trade_no=old, backoff=False)
        if exc.code == "ORDERPAID":
            payment_sync(order=order, source="query_before_restart")
            raise CampusPassError(
                "该订单已支付成功，无需再次支付。请在“订单记录”中查看。", code="already_paid"
            ) from None
        if answer.reaction != Reaction.FINAL:
            raise CampusPassError(
                "暂时无法更换支付单，请稍后再点“立即支付”。", code="restart_failed"
            ) from None
    with transaction.atomic():
        locked = (
            RenewalOrder.objects.select_for_update(of=("self",))
            .select_related("campaign", "staff")
            .get(pk=order.pk)
        )
        if locked.status != S.PENDING_PAYMENT:
            raise CampusPassError(
                f"该订单当前状态为“{locked.status_label}”，无需支付。请在“订单记录”中查看。",
                code="not_payable",
            )
        if locked.out_trade_no != old:  # another tab restarted it meanwhile
            return locked
        locked.out_trade_no = new_out_trade_no(locked.campaign)
        locked.save(update_fields=["out_trade_no"])
        log_action(
            actor=None,
            action="renewals.order.payment_restarted",
            obj=locked,
            reason=reason,
            data={"old_out_trade_no": old, "new_out_trade_no": locked.out_trade_no},
            plate=locked.plate,
            staff_no=locked.staff.staff_no,
        )
    return locked


def _apply_trade_state(order: RenewalOrder, state: TradeState, *, source: str) -> RenewalOrder:
    """Apply a queried SUCCESS after checking it is really our payment."""
    provider = get_provider()
    mismatches = []
    if state.appid and state.appid != provider.appid:
        mismatches.append("appid")
    if state.mchid and state.mchid != provider.mchid:
        mismatches.append("mchid")
    if state.amount_fen != order.amount_fen:
        mismatches.append("amount")
    if mismatches:
        log_action(
            actor=None,
            action="renewals.order.payment_mismatch",
            obj=order,
            data={"source": source, "fields": mismatches, "reported_fen": state.amount_fen},
            plate=order.plate,
            staff_no=order.staff.staff_no,
        )
        raise PaymentMismatch("支付平台返回的信息与订单不符，未入账，请联系保卫处财务。", code="mismatch")
    order, _ = order_mark_paid(
        out_trade_no=order.out_trade_no,
        transaction_id=state.transaction_id,
        amount_fen=state.amount_fen,
        paid_at=state.success_time,
        payer_openid=state.payer_openid,
        source=source,
    )
    return order


def result_query_key(out_trade_no: str) -> str:
    return f"renewals:result-query:{out_trade_no}"


def hold_result_query(out_trade_no: str) -> None:
    """立即支付 has just placed `out_trade_no`: the staff member's return from paying does not ask the
    platform for RESULT_QUERY_DELAY_SECONDS — the notification usually comes within them."""
    delay = int(getattr(settings, "PAYMENT_RESULT_QUERY_DELAY_SECONDS", RESULT_QUERY_DELAY_SECONDS))
    try:
        cache.set(result_query_key(out_trade_no), 1, timeout=delay)
    except Exception:  # noqa: BLE001 - without the cache the result page asks at once, as it did
        logger.warning("could not hold the result query of order %s", out_trade_no[-6:])


def payment_sync_on_return(*, order: RenewalOrder) -> RenewalOrder:
    """The result and order pages of a staff member, while the order waits for payment and no
    notification has come: ask the platform (WeChat Pay's rule — query the order when no
    notification arrived), but not in the first RESULT_QUERY_DELAY_SECONDS after 立即支付 and at
    most once per RESULT_QUERY_INTERVAL_SECONDS per order however often the page is shown or
    refreshed (one cache key per order; decision 0042). `order`: just read, with campaign and staff.
    Returns the order as it now is (the same object when nothing was asked or nothing changed)."""
    if order.status != S.PENDING_PAYMENT:
        return order
    interval = int(getattr(settings, "PAYMENT_RESULT_QUERY_INTERVAL_SECONDS", RESULT_QUERY_INTERVAL_SECONDS))
    try:
        due = cache.add(result_query_key(order.out_trade_no), 1, timeout=interval)
    except Exception:  # noqa: BLE001 - no cache: ask, as before the limit
        due = True
    if not due:
        return order
    return payment_sync(order=order, fresh=True)


def payment_sync(*, order: RenewalOrder, source: str = "query", fresh: bool = False) -> RenewalOrder:
    """Ask the provider about an unpaid order and apply a payment it reports. Returns the order as it
    now is. A platform that cannot be reached leaves the order unchanged (the page says so).
    `fresh`: the caller has just read the order with its campaign and staff (not read again; a
    payment found is applied under the order's lock all the same)."""
    if not fresh:
        order = RenewalOrder.objects.select_related("campaign", "staff").get(pk=order.pk)
    if order.status != S.PENDING_PAYMENT:
        return order
    try:
        state = get_provider().query(order.out_trade_no)
    except PaymentProviderError as exc:
        # BACKOFF spaces the next scheduled query; FINANCE shows it to finance (decision 0035).
        outcomes.failed("query", order.out_trade_no, exc, trade_no=order.out_trade_no)
        if exc.code != "ORDER_NOT_EXIST":
            logger.warning("payment query failed for order %s: %s", order.pk, exc.code)
        return order
    outcomes.succeeded("query", order.out_trade_no)
    if state.is_paid:
        return _apply_trade_state(order, state, source=source)
    return order


def payment_expire(*, order: RenewalOrder) -> RenewalOrder:
    """Close an order unpaid past the campaign's timeout — after asking the provider, so a payment
    made at the last second makes the order paid, never closed."""
    order = RenewalOrder.objects.select_related("campaign", "staff").get(pk=order.pk)
    if order.status == S.AWAITING_CONSENT:
        # Never agreed to, so never placed with the platform: nothing to ask or close there.
        return order_close(order=order, reason="超时未同意知情同意书，订单自动关闭")
    order = payment_sync(order=order, source="query_before_close")
    if order.status != S.PENDING_PAYMENT:
        return order
    try:
        get_provider().close(order.out_trade_no)
    except PaymentProviderError as exc:
        answer = outcomes.failed("close", order.out_trade_no, exc, trade_no=order.out_trade_no)
        if exc.code == "ORDERPAID":
            return payment_sync(order=order, source="query_before_close")
        if answer.reaction != Reaction.FINAL:
            # Cannot be sure the platform will refuse a late payment: try again on the next run.
            logger.warning("closing order %s on the platform failed: %s", order.pk, exc.code)
            return order
        # ORDER_CLOSED (closed by time_expire or earlier) / ORDER_NOT_EXIST: closed there already.
    else:
        outcomes.succeeded("close", order.out_trade_no)
    return order_close(order=order, reason="超时未支付，订单自动关闭")


def check_unpaid_orders(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Scheduled every minute: query unpaid orders older than a minute; close those past the
    timeout (querying first). An order whose query (or close) WeChat Pay answered with a BACKOFF
    code waits until `backoff_delay` has passed, and one with an open alert for finance waits for a
    person (decision 0035)."""
    now = now or timezone.now()
    counts = {"queried": 0, "paid": 0, "closed": 0, "waiting": 0}
    waiting = {"query": outcomes.waiting_keys("query", now), "close": outcomes.waiting_keys("close", now)}
    # Orders created at the counter are paid at the counter: the platform knows nothing of them.
    pending = RenewalOrder.objects.filter(
        status__in=RenewalOrder.UNPAID_STATUSES,
        channel=RenewalOrder.Channel.ONLINE,
        created_at__lte=now - QUERY_AFTER,
    ).select_related("campaign", "staff")
    for order in pending.iterator(chunk_size=200):
        expired = now >= expires_at(order)
        if order.status == S.AWAITING_CONSENT and not expired:
            continue  # not placed with the platform yet: nothing to ask
        calls = ("query", "close") if expired and order.status != S.AWAITING_CONSENT else ("query",)
        if order.status != S.AWAITING_CONSENT and any(order.out_trade_no in waiting[c] for c in calls):
            counts["waiting"] += 1
            continue
        counts["queried"] += 1
        try:
            settle = payment_expire if expired else payment_sync
            result = settle(order=order)
        except CampusPassError as exc:
            logger.warning("unpaid order %s not settled: %s", order.pk, exc.code)
            continue
        if result.status == S.PAID:
            counts["paid"] += 1
        elif result.status == S.CLOSED:
            counts["closed"] += 1
    return counts


# --- notifications (called by campuspass.payments.views after verification) -----------------


def apply_payment_notification(notification: Notification) -> str:
    """A verified TRANSACTION.SUCCESS: check the decrypted resource against our order, then pay it
    (a second notification for a paid order is a no-op). Returns what happened, for the log row.
    A notification we cannot apply (unknown order, mismatch) is acknowledged — WeChat retrying it
    would change nothing — and left in the audit log for finance."""
    resource = notification.resource
    if notification.event_type != "TRANSACTION.SUCCESS" or resource.get("trade_state") != "SUCCESS":
        return f"ignored {notification.event_type}"
    out_trade_no = str(resource.get("out_trade_no", ""))
    with transaction.atomic(savepoint=False):  # the endpoint's savepoint holds the handler
        return _apply_payment_resource(notification, resource, out_trade_no)


def _apply_payment_resource(notification: Notification, resource: dict, out_trade_no: str) -> str:
    # The order is locked once here and handed to the ledger (issue 13: it was read twice).
    try:
        order = lock(RenewalOrder, None, out_trade_no=out_trade_no)
    except RenewalOrder.DoesNotExist:
        log_action(
            actor=None, action="payments.notification.unknown_order", data={"out_trade_no": out_trade_no}
        )
        return "unknown order"
    provider = get_provider()
    mismatches = check_payment_resource(
        resource,
        appid=provider.appid,
        mchid=provider.mchid,
        out_trade_no=order.out_trade_no,
        amount_fen=order.amount_fen,
    )
    if mismatches:
        log_action(
            actor=None,
            action="renewals.order.payment_mismatch",
            obj=order,
            data={"source": "notification", "event_id": notification.event_id, "mismatches": mismatches},
            plate=order.plate,
            staff_no=order.staff.staff_no,
        )
        return "mismatch"
    try:
        _, changed = order_mark_paid(
            out_trade_no=order.out_trade_no,
            transaction_id=str(resource["transaction_id"]),
            amount_fen=int(resource["amount"]["total"]),
            paid_at=parse_time(resource.get("success_time")),
            payer_openid=str((resource.get("payer") or {}).get("openid", "")),
            source="notification",
            locked=order,
        )
    except CampusPassError as exc:
        # E.g. paid after the order was closed: recorded by the service; finance refunds it.
        log_action(
            actor=None,
            action="renewals.order.payment_not_applied",
            obj=order,
            reason=exc.message,
            data={"event_id": notification.event_id, "transaction_id": resource.get("transaction_id")},
            plate=order.plate,
            staff_no=order.staff.staff_no,
        )
        return f"not applied: {exc.code}"
    if changed:
        return "paid"
    recorded = Payment.objects.filter(
        method=Payment.Method.WECHAT, reference=str(resource["transaction_id"])
    ).first()
    if recorded is not None and recorded.state == Payment.State.UNCLAIMED:
        # Paid after the order closed, or a second payment: in the ledger, to be given back.
        return "unclaimed: recorded for refund"
    return "already paid"


def apply_refund_notification(notification: Notification) -> str:
    """A verified REFUND.SUCCESS / ABNORMAL / CLOSED: the final state of one of our refunds."""
    resource = notification.resource
    out_refund_no = str(resource.get("out_refund_no", ""))
    refund = Refund.objects.select_related("order", "payment").filter(out_refund_no=out_refund_no).first()
    if refund is None:
        log_action(
            actor=None, action="payments.notification.unknown_refund", data={"out_refund_no": out_refund_no}
        )
        return "unknown refund"
    mismatches = check_refund_resource(
        resource,
        mchid=get_provider().mchid,
        out_trade_no=refund.payment.out_trade_no,
        out_refund_no=refund.out_refund_no,
        amount_fen=refund.amount_fen,
    )
    if mismatches:
        log_action(
            actor=None,
            action="renewals.refund.notification_mismatch",
            obj=refund,
            data={"event_id": notification.event_id, "mismatches": mismatches},
            plate=refund.order.plate if refund.order else "",
        )
        return "mismatch"
    status = str(resource["refund_status"])
    _, changed = refund_apply_result(
        out_refund_no=out_refund_no,
        platform_status=status,
        refund_id_on_platform=str(resource.get("refund_id", "")),
        amount_fen=int(resource["amount"]["refund"]),
        source="notification",
    )
    return f"refund {status}" if changed else "already applied"


def provider_summary() -> dict[str, Any]:
    provider = get_provider()
    return {"name": provider.name, "appid": provider.appid, "mchid": provider.mchid}
