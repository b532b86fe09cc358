"""Which days to reconcile, on WeChat Pay's clock: every day since the first online order (at most
the three months the bill API keeps) that has no reconciliation yet and whose bill is due. Idempotent
and self-catching-up: whatever runs it, and however often, each day is reconciled once, after its
bill is ready; a day still being made is retried on the next run (decision 0012)."""

from __future__ import annotations

import datetime as dt
import logging

from django.utils import timezone

from campuspass.payments.bills import (
    BEIJING,
    BillNotReady,
    beijing_today,
    bill_is_due,
    is_due,
    oldest_fetchable,
)
from campuspass.payments.errors import decide
from campuspass.payments.providers import PaymentProviderError

from ..models import ReconciliationRun, RenewalOrder
from .reconcile import reconcile_day

logger = logging.getLogger(__name__)
MAX_DAYS_PER_RUN = 31  # a long outage is caught up over a few runs, never in one long job


def days_to_reconcile(*, now: dt.datetime | None = None) -> list[dt.date]:
    """The due days without a reconciliation, oldest first."""
    now = now or timezone.now()
    first_created = (
        RenewalOrder.objects.filter(channel=RenewalOrder.Channel.ONLINE)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if first_created is None:
        return []
    start = max(first_created.astimezone(BEIJING).date(), oldest_fetchable(now))
    today = beijing_today(now)
    done = set(ReconciliationRun.objects.filter(day__gte=start).values_list("day", flat=True))
    days = []
    day = start
    while day < today and is_due(day, now):
        if day not in done:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def reconcile_due_days(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Reconcile the missing due days (at most MAX_DAYS_PER_RUN). Stops at a bill still being made
    or at an error the table does not call final: the next run starts again from that day — after
    `backoff_delay` for a BACKOFF answer, after finance's "重试" for a FINANCE one (decision 0035)."""
    counts = {"reconciled": 0, "not_ready": 0, "failed": 0, "waiting": 0, "left": 0}
    days = days_to_reconcile(now=now)
    for index, day in enumerate(days[:MAX_DAYS_PER_RUN]):
        if not bill_is_due(day, now):
            counts["waiting"] += 1
            counts["left"] = len(days) - index
            break
        try:
            reconcile_day(day=day)
        except BillNotReady:
            counts["not_ready"] += 1
            counts["left"] = len(days) - index
            break
        except PaymentProviderError as exc:
            answer = decide(exc.call or "trade_bill", exc.code)
            logger.warning("bill of %s not fetched: %s (%s)", day, exc.code, answer.reaction)
            counts["failed"] += 1
            counts["left"] = len(days) - index
            break
        counts["reconciled"] += 1
    else:
        counts["left"] = max(len(days) - MAX_DAYS_PER_RUN, 0)
    return counts
