"""Reads of the daily reconciliation results for the back office's 对账 screen.

The screen reads only through these functions, so the comparison and the bill fetching behind
`ReconciliationRun` can change without touching it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from campuspass.core.money import yuan

from .models import ReconciliationRun

KIND_LABELS = {"payment": "支付", "refund": "退款"}


@dataclass(frozen=True)
class Difference:
    kind: str
    key: str  # out_trade_no / out_refund_no
    ours: str  # yuan text, "—" when we have no record
    bill: str
    problem: str


@dataclass(frozen=True)
class ReconciliationDay:
    day: dt.date
    checked_at: dt.datetime
    payments_ours: int
    payments_bill: int
    refunds_ours: int
    refunds_bill: int
    paid_total: str
    refunded_total: str
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


def _yuan_or_dash(fen) -> str:
    return yuan(fen) if isinstance(fen, int) else "—"


def _day(run: ReconciliationRun) -> ReconciliationDay:
    differences = [
        Difference(
            kind=KIND_LABELS.get(str(d.get("kind")), str(d.get("kind", ""))),
            key=str(d.get("key", "")),
            ours=_yuan_or_dash(d.get("ours_fen")),
            bill=_yuan_or_dash(d.get("bill_fen")),
            problem=str(d.get("problem", "")),
        )
        for d in (run.differences or [])
        if isinstance(d, dict)
    ]
    return ReconciliationDay(
        day=run.day,
        checked_at=run.created_at,
        payments_ours=run.payments_ours,
        payments_bill=run.payments_bill,
        refunds_ours=run.refunds_ours,
        refunds_bill=run.refunds_bill,
        paid_total=yuan(run.paid_total_fen),
        refunded_total=yuan(run.refunded_total_fen),
        differences=differences,
    )


def reconciliation_days(*, limit: int = 62) -> list[ReconciliationDay]:
    """The latest days, newest first."""
    return [_day(run) for run in ReconciliationRun.objects.order_by("-day")[:limit]]


def reconciliation_day(day: dt.date) -> ReconciliationDay | None:
    run = ReconciliationRun.objects.filter(day=day).first()
    return _day(run) if run else None
