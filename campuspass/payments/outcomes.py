"""What each answer of WeChat Pay does to the NEXT call (decision 0035), on top of the one error table.

Every caller of the provider reports the outcome here, keyed by the call and its number
(out_trade_no, out_refund_no, or the bill day):
- `succeeded(call, key)`: the answer came; any backoff of that call starts from the beginning again.
- `failed(call, key, exc, ...)`: the table's reaction (`errors.decide`) is applied and returned:
  BACKOFF → the call is due again only after `backoff_delay(failures)` (a `CallBackoff` row);
  FINANCE → an open `PaymentAlert` for finance (one per call and key, a repeat only counts);
  FINAL / RETRY_LATER → no backoff (the caller applies the answer, or the next run asks again).
- `is_due(call, key)` / `waiting_keys(call)`: what the scheduled jobs skip — a call still backing
  off, or one with an open alert (a person must act first: "已处理" or "重试" in /office/).

The adapter knows numbers, not orders: the renewal services turn alerts into screens and retries.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from campuspass.core.audit import log_action
from campuspass.core.bulk import delete_rows

from .errors import CALLS, Answer, Reaction, backoff_delay, decide
from .models import CallBackoff, PaymentAlert

logger = logging.getLogger(__name__)


def _check(call: str) -> None:
    if call not in CALLS:
        raise ValueError(f"unknown WeChat Pay call {call!r}")


def succeeded(call: str, key: str) -> None:
    """The platform answered `call` for `key`: its backoff (if any) is over."""
    _check(call)
    # One DELETE: most answers find no row, and QuerySet.delete() would wrap it in BEGIN … COMMIT.
    delete_rows(CallBackoff.objects.filter(call=call, key=key))


def failed(
    call: str,
    key: str,
    exc: Any,
    *,
    trade_no: str = "",
    refund_no: str = "",
    bill_day: dt.date | None = None,
    backoff: bool = True,
    now: dt.datetime | None = None,
) -> Answer:
    """Record what the error `exc` (a PaymentProviderError: `.code`, `.message`, `.call`) of `call`
    for `key` means for the next call, and return the table's answer. `exc.call`, when the provider
    sets it, wins over `call` (e.g. the download step of a bill). `backoff=False` for calls a person
    starts (立即支付): nothing schedules them, so there is no backoff to keep."""
    _check(call)
    now = now or timezone.now()
    code = str(getattr(exc, "code", "") or "provider_error")
    answer = decide(getattr(exc, "call", "") or call, code)
    if answer.reaction == Reaction.BACKOFF and backoff:
        _back_off(call, key, code, now)
    else:
        CallBackoff.objects.filter(call=call, key=key).delete()
    if answer.reaction == Reaction.FINANCE:
        raise_alert(
            call,
            key,
            code=code,
            meaning=answer.meaning,
            detail=str(getattr(exc, "message", "") or exc),
            trade_no=trade_no,
            refund_no=refund_no,
            bill_day=bill_day,
            now=now,
        )
    return answer


def _back_off(call: str, key: str, code: str, now: dt.datetime) -> CallBackoff:
    with transaction.atomic():
        row = CallBackoff.objects.select_for_update().filter(call=call, key=key).first()
        if row is None:
            try:
                with transaction.atomic():
                    row = CallBackoff.objects.create(
                        call=call, key=key, failures=0, last_code=code, next_attempt_at=now
                    )
            except IntegrityError:  # another worker created it meanwhile
                row = CallBackoff.objects.select_for_update().get(call=call, key=key)
        row.failures += 1
        row.last_code = code[:64]
        row.last_attempt_at = now
        row.next_attempt_at = now + backoff_delay(row.failures)
        row.save(update_fields=["failures", "last_code", "last_attempt_at", "next_attempt_at"])
    logger.info("wechatpay %s backing off: %s, failure %s", call, code, row.failures)
    return row


def raise_alert(
    call: str,
    key: str,
    *,
    code: str,
    meaning: str,
    detail: str = "",
    trade_no: str = "",
    refund_no: str = "",
    bill_day: dt.date | None = None,
    now: dt.datetime | None = None,
) -> PaymentAlert:
    """Open an alert for finance, or count a repeat of the open one (audited when opened)."""
    now = now or timezone.now()
    updated = PaymentAlert.objects.filter(call=call, key=key, resolved_at__isnull=True).update(
        occurrences=F("occurrences") + 1,
        last_at=now,
        code=code[:64],
        meaning=meaning[:200],
        detail=detail[:255],
    )
    if updated:
        return PaymentAlert.objects.get(call=call, key=key, resolved_at__isnull=True)
    try:
        with transaction.atomic():
            alert = PaymentAlert.objects.create(
                call=call,
                key=key,
                code=code[:64],
                meaning=meaning[:200],
                detail=detail[:255],
                trade_no=trade_no[:32],
                refund_no=refund_no[:64],
                bill_day=bill_day,
                first_at=now,
                last_at=now,
            )
            log_action(
                actor=None,
                action="payments.alert.raised",
                obj=alert,
                reason=meaning,
                data={"call": call, "code": code, "key": key},
            )
    except IntegrityError:  # raised by another worker meanwhile
        return raise_alert(
            call,
            key,
            code=code,
            meaning=meaning,
            detail=detail,
            trade_no=trade_no,
            refund_no=refund_no,
            bill_day=bill_day,
            now=now,
        )
    logger.warning("wechatpay %s answered %s: shown to finance (alert %s)", call, code, alert.pk)
    return alert


def resolve_alert(alert_id: int, *, acting_user: Any, resolution: str, note: str = "") -> PaymentAlert:
    """Finance closes an alert: "handled" (dealt with it) or "retried" (the caller sends the call
    again now). Audited; the scheduled job takes the call up again. Closing a closed alert is a
    no-op. Raises PaymentAlert.DoesNotExist."""
    if resolution not in {"handled", "retried"}:
        raise ValueError(resolution)
    with transaction.atomic():
        alert = PaymentAlert.objects.select_for_update().get(pk=alert_id)
        if alert.resolved_at is not None:
            return alert
        user = acting_user if getattr(acting_user, "is_authenticated", False) else None
        alert.resolved_at = timezone.now()
        alert.resolved_by = user
        alert.resolution = resolution
        alert.note = " ".join((note or "").split())[:200]
        alert.save(update_fields=["resolved_at", "resolved_by", "resolution", "note"])
        CallBackoff.objects.filter(call=alert.call, key=alert.key).delete()
        log_action(
            actor=acting_user,
            action="payments.alert.handled" if resolution == "handled" else "payments.alert.retried",
            obj=alert,
            reason=alert.note,
            data={"call": alert.call, "code": alert.code, "key": alert.key},
        )
    return alert


def resolve_alerts_for(call: str, key: str, *, acting_user: Any, resolution: str = "retried") -> int:
    """Close every open alert of `call` for `key` (e.g. finance retried a failed refund from its own
    row). Returns how many were closed."""
    ids = list(
        PaymentAlert.objects.filter(call=call, key=key, resolved_at__isnull=True).values_list("pk", flat=True)
    )
    for pk in ids:
        resolve_alert(pk, acting_user=acting_user, resolution=resolution)
    return len(ids)


def open_alerts():
    return PaymentAlert.objects.filter(resolved_at__isnull=True).order_by("-last_at", "-pk")


def waiting_keys(call: str, now: dt.datetime | None = None) -> set[str]:
    """The keys of `call` the scheduled jobs must not send now: backing off, or an open alert."""
    _check(call)
    now = now or timezone.now()
    backing_off = CallBackoff.objects.filter(call=call, next_attempt_at__gt=now).values_list("key", flat=True)
    alerted = PaymentAlert.objects.filter(call=call, resolved_at__isnull=True).values_list("key", flat=True)
    return set(backing_off) | set(alerted)


def is_due(call: str, key: str, now: dt.datetime | None = None) -> bool:
    _check(call)
    now = now or timezone.now()
    if PaymentAlert.objects.filter(call=call, key=key, resolved_at__isnull=True).exists():
        return False
    return not CallBackoff.objects.filter(call=call, key=key, next_attempt_at__gt=now).exists()


def backoff_of(call: str, key: str) -> CallBackoff | None:
    return CallBackoff.objects.filter(call=call, key=key).first()
