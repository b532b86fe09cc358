"""The audit log's only writers. Services call `log_action` inside their transaction, so an entry
exists exactly when the change it describes was committed."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from . import logcontext
from .models import LogEntry

logger = logging.getLogger("campuspass.audit")

SYSTEM_LABEL = "系统"


def actor_label_for(actor: Any) -> str:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return SYSTEM_LABEL
    return actor.get_username()


def build_entry(
    *,
    actor: Any,
    action: str,
    obj: models.Model | None = None,
    reason: str = "",
    data: dict | None = None,
    plate: str = "",
    staff_no: str = "",
    actor_label: str | None = None,
) -> LogEntry:
    """An unsaved entry, for callers that write many at once (`log_actions`)."""
    entry = LogEntry(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_label=actor_label or actor_label_for(actor),
        action=action,
        reason=reason,
        data=data or {},
        plate=plate,
        staff_no=staff_no,
    )
    if obj is not None:
        entry.content_type = ContentType.objects.get_for_model(obj, for_concrete_model=False)
        entry.object_id = str(obj.pk)
        entry.object_repr = str(obj)[:200]
    return entry


def log_action(**kwargs: Any) -> LogEntry:
    """Write one audit entry. Keyword arguments as `build_entry`."""
    entry = build_entry(**kwargs)
    entry.save()
    _log_move(entry, kwargs.get("obj"))
    return entry


def _log_move(entry: LogEntry, obj: models.Model | None) -> None:
    """One structured log line per audited move, keyed by order number and out_trade_no (never the
    object's text, which may name a person)."""
    order = obj if hasattr(obj, "out_trade_no") else None
    if (
        order is None
        and obj is not None
        and "order" in getattr(getattr(obj, "_state", None), "fields_cache", {})
    ):
        order = obj.order if hasattr(obj.order, "out_trade_no") else None
    if order is not None:
        logcontext.bind(order_no=order.pk, out_trade_no=order.out_trade_no)
    elif obj is not None and hasattr(obj, "order_id"):
        logcontext.bind(order_no=obj.order_id)
    logger.info(
        "audit %s",
        entry.action,
        extra={
            "action": entry.action,
            "object_type": entry.content_type.model if entry.content_type_id else "",
        },
    )


def log_actions(entries: Iterable[LogEntry], batch_size: int = 1000) -> None:
    LogEntry.objects.bulk_create(entries, batch_size=batch_size)


def json_value(value: Any) -> Any:
    """A value as it is stored in `LogEntry.data` (dates as ISO text)."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def diff_fields(obj: models.Model, new_values: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for the fields whose value would change."""
    changes = {}
    for field, new in new_values.items():
        old = getattr(obj, field)
        if old != new:
            changes[field] = [json_value(old), json_value(new)]
    return changes
