"""Fetching the day's trade bill on WeChat Pay's clock (decision 0012).

WeChat Pay produces the bill of day D (Beijing time) on the morning of D+1: before it is ready the
API answers STATEMENT_CREATING, a day without any transaction answers NO_STATEMENT_EXIST, and bills
are kept for three months. `fetch_bill` turns these into "rows", "empty" or "not ready yet"; the
reconcile job asks only for days that are due and not yet reconciled, so it is idempotent and
catches up by itself whatever schedules it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from . import outcomes
from .errors import Reaction
from .providers import BillRow, PaymentProviderError, get_provider

BEIJING = ZoneInfo("Asia/Shanghai")
KEPT_DAYS = 90  # the bill API keeps three months


class BillNotReady(Exception):  # noqa: N818 - a state, not a failure
    """The bill of that day is not there yet: ask again later."""


def ready_hour() -> int:
    return int(getattr(settings, "WECHATPAY_BILL_READY_HOUR", 10))


def ready_at(day: dt.date) -> dt.datetime:
    """When WeChat Pay's bill of `day` can be asked for: D+1 at the configured hour, Beijing time."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(ready_hour()), tzinfo=BEIJING)


def beijing_today(now: dt.datetime | None = None) -> dt.date:
    return (now or timezone.now()).astimezone(BEIJING).date()


def oldest_fetchable(now: dt.datetime | None = None) -> dt.date:
    return beijing_today(now) - dt.timedelta(days=KEPT_DAYS)


def is_due(day: dt.date, now: dt.datetime | None = None) -> bool:
    """Whether `day`'s bill should be there by now (the job asks for no day before this)."""
    return (now or timezone.now()) >= ready_at(day)


def bill_key(day: dt.date) -> str:
    """The key of a day's bill calls in `outcomes` (backoff and alerts)."""
    return day.isoformat()


def fetch_bill(day: dt.date) -> list[BillRow]:
    """The rows of `day`'s bill; [] for a day without transactions (NO_STATEMENT_EXIST). Raises
    BillNotReady while WeChat says the bill is still being made, and PaymentProviderError for what
    the error table does not call final or "later". Every answer is reported to `outcomes`: a
    BACKOFF code spaces the next try of that day, a FINANCE code (e.g. NO_AUTH) opens an alert shown
    on the 对账 screen for that day (decision 0035)."""
    key = bill_key(day)
    try:
        rows = get_provider().download_bill(day)
    except PaymentProviderError as exc:
        answer = outcomes.failed(exc.call or "trade_bill", key, exc, bill_day=day)
        if exc.code == "NO_STATEMENT_EXIST":
            return []
        if answer.reaction == Reaction.RETRY_LATER:
            raise BillNotReady(f"{day} 的账单仍在生成中（{exc.code}）") from exc
        raise
    outcomes.succeeded("trade_bill", key)
    outcomes.succeeded("download_bill", key)
    return rows


def bill_is_due(day: dt.date, now: dt.datetime | None = None) -> bool:
    """Whether the scheduled job may ask for `day`'s bill now: not backing off, no open alert."""
    key = bill_key(day)
    return outcomes.is_due("trade_bill", key, now) and outcomes.is_due("download_bill", key, now)
