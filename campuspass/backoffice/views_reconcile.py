"""对账 (finance, administrators): each day's comparison of the payment platform's bill with our
records, and the differences to look into; a day whose bill WeChat Pay would not give (e.g. NO_AUTH)
shows that answer, its meaning and a "重试" (decision 0035; the retry is the 退款管理 screen's
alert action). It reads through renewals.selectors_reconcile and services.payment_alerts."""

from __future__ import annotations

import datetime as dt

from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from campuspass.renewals.selectors_reconcile import reconciliation_day, reconciliation_days
from campuspass.renewals.services.payment_alerts import open_alert_count, open_bill_alerts

from .roles import role_required

SCREEN = "reconcile"


@role_required(SCREEN)
@require_GET
def index(request):
    days = reconciliation_days()
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    bill_alerts = sorted(open_bill_alerts().values(), key=lambda alert: alert.bill_day)
    return render(
        request,
        "backoffice/reconcile/index.html",
        {
            "screen": SCREEN,
            "days": days,
            "with_differences": sum(1 for d in days if not d.ok),
            "yesterday_missing": not any(d.day == yesterday for d in days),
            "yesterday": yesterday,
            "bill_alerts": bill_alerts,
            "attention_count": open_alert_count(),
        },
    )


@role_required(SCREEN)
@require_GET
def day(request, day: str):
    try:
        parsed = dt.date.fromisoformat(day)
    except ValueError:
        raise Http404("日期格式不正确") from None
    result = reconciliation_day(parsed)
    alert = open_bill_alerts().get(parsed)
    if result is None and alert is None:
        raise Http404("这一天还没有对账结果")
    return render(
        request,
        "backoffice/reconcile/day.html",
        {"screen": SCREEN, "result": result, "day": parsed, "alert": alert},
    )
