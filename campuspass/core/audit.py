"""The audit log's only writers. Services call `log_action` inside their transaction, so an entry
exists exactly when the change it describes was committed."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.dateparse import parse_datetime

from . import audit_catalogue as catalogue
from . import logcontext
from .models import LogEntry
from .money import yuan
from .phones import mask_phone

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


def log_action(*, before: Iterable[tuple[LogEntry, models.Model | None]] = (), **kwargs: Any) -> LogEntry:
    """Write one audit entry. Keyword arguments as `build_entry`. `before`: entries of the same
    transaction (unsaved, from `build_entry`, each with its object) written just before this one, in
    the same INSERT — one statement for a change that is audited twice (a payment and the move it
    makes, issue 13)."""
    entry = build_entry(**kwargs)
    earlier = list(before)
    if earlier:
        LogEntry.objects.bulk_create([e for e, _ in earlier] + [entry])
        for e, obj in earlier:
            _log_move(e, obj)
    else:
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


# --- reading an entry: Chinese labels, Beijing time (decision 0036) ---------------------------------

BEIJING = ZoneInfo("Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
EMPTY = "（空）"
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def beijing_time(value: dt.datetime) -> str:
    """An aware time as Beijing time text, "2026-11-29 18:30:05" (a naive one is taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(BEIJING).strftime(TIME_FORMAT)


def _choices(ref: str) -> dict[str, str]:
    app_label, model_name, field_name = ref.split(".")
    field = apps.get_model(app_label, model_name)._meta.get_field(field_name)
    return {str(value): str(label) for value, label in field.flatchoices}


def value_labels(key: catalogue.Key) -> Mapping[str, str]:
    """The {value: label} of a key: its map, or its model fields' choices."""
    if isinstance(key.values, Mapping):
        return key.values
    refs = (key.values,) if isinstance(key.values, str) else key.values
    labels: dict[str, str] = {}
    for ref in filter(None, refs):
        labels.update(_choices(ref))
    return labels


def _model_field(model: type[models.Model] | None, name: str) -> models.Field | None:
    if model is None:
        return None
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def _key(name: str, action: catalogue.AuditAction | None, model: type[models.Model] | None = None):
    """The Key of a data key: the action's own, the model field's (for a field of the entry's
    object inside "changes"/"deleted"), then the catalogue's. None when nothing names it."""
    if action is not None and name in action.keys:
        return action.keys[name]
    field = _model_field(model, name)
    shared = catalogue.DATA_KEYS.get(name)
    if field is not None:
        label = str(getattr(field, "verbose_name", ""))
        if not _CJK.search(label):
            label = shared.label if shared else label
        if getattr(field, "choices", None):
            return catalogue.Key(label, values=f"{field.model._meta.label}.{field.name}")
        if isinstance(field, models.DateTimeField):
            return catalogue.Key(label, catalogue.TIME)
        return catalogue.Key(
            label, shared.kind if shared else catalogue.TEXT, shared.values if shared else ""
        )
    return shared


def format_value(value: Any, key: catalogue.Key | None = None, name: str = "") -> str:
    """One value as a person reads it: labels of codes, yuan, 是/否, Beijing time, masked phones."""
    kind = key.kind if key else catalogue.TEXT
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list | tuple):
        return "、".join(format_value(v, key, name) for v in value) or "（无）"
    if isinstance(value, dict):
        return "，".join(f"{label_of(k)}：{format_value(v, _key(k, None), k)}" for k, v in value.items())
    if (kind == catalogue.MONEY or name.endswith("_fen")) and isinstance(value, int):
        return f"{yuan(value)} 元"
    if kind == catalogue.PHONE:
        return mask_phone(value)
    if isinstance(value, dt.datetime):
        return beijing_time(value)
    if key is not None and key.values:
        labels = value_labels(key)
        if str(value) in labels:
            return labels[str(value)]
    # Text is never reinterpreted: only a key declared as a time (or an unnamed key holding what
    # isoformat() writes, with its "T") is read as one. A person's text such as the address
    # "2026-02-30 10:00" stays as typed.
    if isinstance(value, str) and (
        kind == catalogue.TIME or (key is None and _ISO_TIME.match(value) and "T" in value[:11])
    ):
        try:
            parsed = parse_datetime(value)
        except ValueError:  # the right shape, an impossible date
            parsed = None
        if parsed is not None:
            return beijing_time(parsed)
    return str(value)


def label_of(name: str, action: catalogue.AuditAction | None = None, model=None) -> str:
    key = _key(name, action, model)
    return key.label if key else name  # an unknown key still shows, under its own name


def _model_of(entry: LogEntry) -> type[models.Model] | None:
    # get_for_id is cached per process: a page of 50 entries no longer reads its types 50 times
    return (
        ContentType.objects.get_for_id(entry.content_type_id).model_class() if entry.content_type_id else None
    )


def describe(entry: LogEntry) -> list[str]:
    """The entry's data as lines a person reads: a state move as "状态：待支付 → 待审核", field
    changes as "手机号：139****0002 → 138****0002", then every other key "label：value". Keys
    nothing names still show under their own name: data is never hidden."""
    data = entry.data if isinstance(entry.data, dict) else {"data": entry.data}
    action = catalogue.BY_CODE.get(entry.action)
    model = _model_of(entry)
    lines: list[str] = []
    if "from" in data and "to" in data:
        axis = catalogue.AXES.get(data.get("axis") or "order", catalogue.AXES["order"])
        lines.append(f"{axis.label}：{_state(data['from'], axis)} → {_state(data['to'], axis)}")
    for name, value in data.items():
        if name in ("axis", "from", "to") and "from" in data and "to" in data:
            continue
        key = _key(name, action)
        if key is not None and key.kind == catalogue.FIELDS and isinstance(value, dict):
            prefix = "" if name == "changes" else f"{key.label}·"
            for field_name, field_value in value.items():
                field_key = _key(field_name, action, model)
                label = field_key.label if field_key else field_name
                if name == "changes" and isinstance(field_value, list | tuple) and len(field_value) == 2:
                    old, new = (format_value(v, field_key, field_name) for v in field_value)
                    lines.append(f"{prefix}{label}：{old} → {new}")
                else:
                    lines.append(f"{prefix}{label}：{format_value(field_value, field_key, field_name)}")
            continue
        lines.append(f"{key.label if key else name}：{format_value(value, key, name)}")
    return lines


def _state(value: str, axis: catalogue.Key) -> str:
    return value_labels(axis).get(value, value) if value else "未设置"


def unlabelled_keys(entry: LogEntry) -> set[str]:
    """The data keys of an entry that nothing in the catalogue (or the entry's model) names."""
    data = entry.data if isinstance(entry.data, dict) else {}
    action = catalogue.BY_CODE.get(entry.action)
    model = _model_of(entry)
    missing: set[str] = set()

    def walk(value: Any, nested_model=None) -> None:
        if isinstance(value, dict):
            for name, inner in value.items():
                key = _key(name, action, nested_model)
                if key is None or not _CJK.search(key.label):
                    missing.add(name)
                walk(inner)
        elif isinstance(value, list | tuple):
            for inner in value:
                walk(inner)

    for name, value in data.items():
        if name in ("axis", "from", "to"):
            continue
        key = _key(name, action)
        if key is None:
            missing.add(name)
        walk(value, model if key is not None and key.kind == catalogue.FIELDS else None)
    return missing
