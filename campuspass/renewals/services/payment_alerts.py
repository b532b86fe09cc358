"""需要处理: WeChat Pay answers that need a person (the FINANCE reaction of the one error table),
as finance sees them — with the order or refund they concern — and what finance can do about them:
mark one handled, or retry the call after fixing the cause (decision 0035). Both are audited by
`payments.outcomes.resolve_alert`; the scheduled jobs leave a call alone while its alert is open."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from campuspass.core.errors import CampusPassError
from campuspass.payments import outcomes
from campuspass.payments.models import PaymentAlert
from campuspass.payments.providers import PaymentProviderError

from ..models import Refund, RenewalOrder

R = Refund.Status
S = RenewalOrder.Status

# What "重试" does, per call (None: nothing we can send again for it; only "已处理").
RETRY_LABELS = {
    "jsapi": None,  # only the staff member can place the order again (立即支付)
    "query": "重新查询订单",
    "close": "重新关闭订单",
    "refund": "用原退款单号重新提交",
    "query_refund": "重新查询退款",
    "trade_bill": "重新下载账单并对账",
    "download_bill": "重新下载账单并对账",
}
NEXT_STEP = {
    "jsapi": "处理后请职工重新点击“立即支付”。",
    "query": "处理后点“重试”，系统重新查询该订单并按结果入账或关闭。",
    "close": "处理后点“重试”，系统重新关闭该订单。",
    "refund": "处理后点“重试”，以原退款单号重新提交（平台不会重复退款）；付款人账户注销的，线下退还后在“退款失败/关闭/异常”中登记。",
    "query_refund": "处理后点“重试”，系统重新查询该退款。",
    "trade_bill": "处理后点“重试”，系统重新下载这一天的账单并对账。",
    "download_bill": "处理后点“重试”，系统重新下载这一天的账单并对账。",
}


@dataclass
class AlertRow:
    alert: PaymentAlert
    order: RenewalOrder | None
    refund: Refund | None
    retry_label: str | None
    next_step: str

    @property
    def call_label(self) -> str:
        return self.alert.get_call_display()


def alert_rows(alerts) -> list[AlertRow]:
    """Alerts (e.g. one page of them) with the order or refund each concerns."""
    alerts = list(alerts)
    trade_nos = {a.trade_no for a in alerts if a.trade_no}
    refund_nos = {a.refund_no for a in alerts if a.refund_no}
    orders = {
        o.out_trade_no: o
        for o in RenewalOrder.objects.filter(out_trade_no__in=trade_nos).select_related("staff")
    }
    refunds = {
        r.out_refund_no: r
        for r in Refund.objects.filter(out_refund_no__in=refund_nos).select_related("order__staff", "payment")
    }
    rows = []
    for alert in alerts:
        refund = refunds.get(alert.refund_no)
        order = orders.get(alert.trade_no) or (refund.order if refund else None)
        label = RETRY_LABELS.get(alert.call)
        if alert.call == "refund" and (refund is None or refund.status != R.FAILED):
            label = None  # e.g. ABNORMAL: paid out offline, not resent
        rows.append(AlertRow(alert, order, refund, label, NEXT_STEP.get(alert.call, "")))
    return rows


def open_alert_rows() -> list[AlertRow]:
    """Every open alert, newest first, with the order or refund it concerns."""
    return alert_rows(outcomes.open_alerts())


def open_alerts():
    """The open alerts, newest first (a queryset, for paging)."""
    return outcomes.open_alerts()


def open_alert_count() -> int:
    return outcomes.open_alerts().count()


def open_bill_alerts() -> dict[dt.date, PaymentAlert]:
    """Open alerts of the bill calls, by bill day (the 对账 screen shows them on that day)."""
    found: dict[dt.date, PaymentAlert] = {}
    for alert in outcomes.open_alerts().filter(
        call__in=("trade_bill", "download_bill"), bill_day__isnull=False
    ):
        found.setdefault(alert.bill_day, alert)
    return found


def alert_handled(*, alert_id: int, acting_user: Any, note: str = "") -> PaymentAlert:
    """Finance dealt with it (e.g. corrected the merchant platform's settings): closed, audited."""
    try:
        return outcomes.resolve_alert(alert_id, acting_user=acting_user, resolution="handled", note=note)
    except PaymentAlert.DoesNotExist:
        raise CampusPassError("该提醒不存在，请刷新页面。", code="no_alert") from None


def alert_retry(*, alert_id: int, acting_user: Any) -> str:
    """Close the alert (audited as retried) and send its call again now. Returns what happened, in
    Chinese; a call that fails again opens a new alert. Raises CampusPassError."""
    alert = PaymentAlert.objects.filter(pk=alert_id).first()
    if alert is None or not alert.is_open:
        raise CampusPassError("该提醒已处理或不存在，请刷新页面。", code="no_alert")
    row = alert_rows([alert])[0]
    if row.retry_label is None:
        raise CampusPassError(f"“{row.call_label}”不能由系统重试。{row.next_step}", code="no_retry")
    outcomes.resolve_alert(alert.pk, acting_user=acting_user, resolution="retried")
    if alert.call in ("trade_bill", "download_bill"):
        return _retry_bill(alert.bill_day, acting_user)
    if alert.call in ("query", "close"):
        return _retry_order(row.order, alert.call)
    return _retry_refund(row.refund, alert.call, acting_user)


def _still_open(alert_call: str, key: str) -> PaymentAlert | None:
    return outcomes.open_alerts().filter(call=alert_call, key=key).first()


def _retry_order(order: RenewalOrder | None, call: str) -> str:
    from .payments import expires_at, payment_expire, payment_sync

    if order is None:
        return "本系统没有该商户订单号的订单，已标记为已处理。"
    if order.status != S.PENDING_PAYMENT:
        return f"订单 {order.plate} 当前为“{order.status_label}”，无需再向微信支付查询或关单。"
    try:
        if call == "close" and timezone.now() >= expires_at(order):
            order = payment_expire(order=order)
        else:
            order = payment_sync(order=order, source="query")
    except CampusPassError as exc:
        return f"订单 {order.plate}：{exc.message}"
    again = _still_open(call, order.out_trade_no) or _still_open("query", order.out_trade_no)
    if again is not None:
        return f"微信支付仍然答复 {again.code}：{again.meaning}"
    return f"已重试，订单 {order.plate} 当前为“{order.status_label}”。"


def _retry_refund(refund: Refund | None, call: str, acting_user: Any) -> str:
    from .refunds import refund_resend, refund_submit, refund_sync

    if refund is None:
        return "本系统没有该退款单号的退款，已标记为已处理。"
    if call == "query_refund":
        refund = refund_sync(refund_id=refund.pk)
    elif refund.status == R.FAILED:
        try:
            refund_resend(refund=refund, acting_user=acting_user)
        except CampusPassError as exc:
            return exc.message
        refund = refund_submit(refund_id=refund.pk)
    again = _still_open(call, refund.out_refund_no)
    if again is not None:
        return f"微信支付仍然答复 {again.code}：{again.meaning}"
    return f"已重试，退款 {refund.out_refund_no} 当前为“{refund.get_status_display()}”。"


def _retry_bill(day: dt.date | None, acting_user: Any) -> str:
    from campuspass.payments.bills import BillNotReady

    from .reconcile import reconcile_day

    if day is None:
        return "该提醒没有账单日期，已标记为已处理。"
    try:
        run = reconcile_day(day=day, acting_user=acting_user)
    except BillNotReady:
        return f"{day:%Y-%m-%d} 的账单仍在生成中，系统稍后会自动下载并对账。"
    except PaymentProviderError as exc:
        return f"{day:%Y-%m-%d} 的账单仍无法下载（{exc.code}），请查看“需要处理”中的说明。"
    differences = len(run.differences or [])
    return f"{day:%Y-%m-%d} 已对账：{'没有差异' if not differences else f'差异 {differences} 项'}。"
