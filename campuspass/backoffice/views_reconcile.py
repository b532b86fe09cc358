"""对账 (finance, administrators): each day's comparison of the payment platform's bill with our
records, and the differences to look into. Read only; it reads through renewals.selectors_reconcile."""

from __future__ import annotations

import datetime as dt

from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from campuspass.renewals.selectors_reconcile import reconciliation_day, reconciliation_days

from .roles import role_required

SCREEN = "reconcile"


@role_required(SCREEN)
@require_GET
def index(request):
    days = reconciliation_days()
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    return render(
        request,
        "backoffice/reconcile/index.html",
        {
            "screen": SCREEN,
            "days": days,
            "with_differences": sum(1 for d in days if not d.ok),
            "yesterday_missing": not any(d.day == yesterday for d in days),
            "yesterday": yesterday,
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
    if result is None:
        raise Http404("这一天还没有对账结果")
    return render(request, "backoffice/reconcile/day.html", {"screen": SCREEN, "result": result})
