"""The audit log screen ("审计日志"): every state change and every view of a full phone number or an
ID photo, searchable by person, plate, order, actor, action and date; newest first; .xlsx export."""

from __future__ import annotations

import datetime as dt
import tempfile
from typing import Any
from urllib.parse import quote

from django.contrib.contenttypes.models import ContentType
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import FileResponse
from django.shortcuts import render
from django.utils import timezone

from campuspass.core.audit_catalogue import label as catalogue_label
from campuspass.core.audit_catalogue import labels as catalogue_labels
from campuspass.core.fieldrules import parse_id
from campuspass.core.models import LogEntry
from campuspass.core.money import yuan
from campuspass.registry.models import Staff
from campuspass.registry.selectors import Query, plate_q
from campuspass.renewals.models import RenewalOrder
from campuspass.renewals.transitions import AXES, ORDER

from .forms import COMMON_ACTIONS, AuditFilterForm
from .roles import role_required

SCREEN = "audit"
PAGE_SIZE = 50
EXPORT_LIMIT = 100_000

# Labels come from the one catalogue of audit actions (campuspass.core.audit_catalogue).
ACTION_LABELS = catalogue_labels()

FIELD_LABELS = {
    "name": "姓名",
    "department": "部门",
    "mobile": "手机号",
    "status": "状态",
    "staff_no": "工号",
    "plate": "车牌号",
    "owner": "车主",
    "vehicle_type": "车辆类型",
    "brand_model": "品牌型号",
    "color": "车身颜色",
    "year": "年度",
    "number": "编号",
    "vehicle": "车辆",
    "holder": "持证人",
    "review_status": "审核状态",
    "valid_from": "有效期起",
    "valid_to": "有效期止",
    "source": "来源",
    "roles": "角色",
    "is_active": "启用",
    "price_fen": "价格（分）",
    "text": "内容",
    "active": "启用",
}


def action_label(code: str) -> str:
    return catalogue_label(code)


def _fmt(value: Any) -> str:
    if value is None or value == "":
        return "（空）"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(_fmt(v) for v in value) or "（无）"
    return str(value)


DATA_LABELS = {
    "amount_fen": "金额",
    "paid_fen": "实付金额",
    "expected_fen": "应付金额",
    "source": "来源",
    "method": "方式",
    "receipt_no": "收据号",
    "reference": "凭证号",
    "payment": "收款",
    "how": "方式",
    "platform_status": "平台状态",
    "out_trade_no": "商户订单号",
    "out_refund_no": "退款单号",
    "transaction_id": "微信支付订单号",
    "fulfilment": "领取方式",
    "channel": "渠道",
    "file": "文件",
    "row": "行",
    "where": "位置",
    "order": "订单",
    "new_pass": "新证编号",
    "pickup_from": "可领取日期",
    "validity": "有效状态",
    "version": "版本",
    "campaign": "年度",
    "username": "用户名",
    "full_name": "姓名",
    "roles": "角色",
    "ip": "IP 地址",
}
AXIS_TITLES = {"order": "状态", "refund": "退款状态", "validity": "有效状态", "fulfilment": "领取/送证状态"}
VALUE_LABELS = {
    **dict(RenewalOrder.Status.choices),
    **dict(RenewalOrder.Fulfilment.choices),
    "cash": "现金",
    "card": "刷卡",
    "wechat": "微信支付",
    "counter": "窗口",
    "onsite": "现场办理",
}


def _value(key: str, value: Any) -> str:
    if key.endswith("_fen") and isinstance(value, int) and not isinstance(value, bool):
        return f"{yuan(value)} 元"
    if isinstance(value, str) and value in VALUE_LABELS:
        return VALUE_LABELS[value]
    return _fmt(value)


def data_lines(entry: LogEntry) -> list[str]:
    """The entry's data as lines a person reads: changes as "field: old → new"."""
    data = entry.data or {}
    lines = []
    changes = data.get("changes")
    if isinstance(changes, dict):
        for field, pair in changes.items():
            label = FIELD_LABELS.get(field, field)
            if isinstance(pair, list | tuple) and len(pair) == 2:
                lines.append(f"{label}：{_fmt(pair[0])} → {_fmt(pair[1])}")
            else:
                lines.append(f"{label}：{_fmt(pair)}")
    if "from" in data and "to" in data:
        axis = AXES.get(data.get("axis", "order"), ORDER)
        lines.insert(0, f"{AXIS_TITLES[axis.name]}：{axis.label(data['from'])} → {axis.label(data['to'])}")
    for key, value in data.items():
        if key in ("changes", "from", "to", "axis"):
            continue
        label = DATA_LABELS.get(key, key)
        lines.append(f"{label}：{value if isinstance(value, dict) else _value(key, value)}")
    return lines


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_default_timezone())


def filter_entries(data: dict) -> QuerySet[LogEntry]:
    """LogEntry rows matching the filter form's cleaned data, newest first."""
    entries = LogEntry.objects.all()
    person = (data.get("person") or "").strip()
    if person:
        staff_nos = set(
            Staff.objects.filter(Q(staff_no__iexact=person) | Q(name=person)).values_list(
                "staff_no", flat=True
            )
        )
        if not staff_nos:
            staff_nos = set(
                Staff.objects.filter(name__contains=person).values_list("staff_no", flat=True)[:200]
            )
        # A staff number no longer in the registry is still found in the log.
        staff_nos.add(person)
        entries = entries.filter(staff_no__in=staff_nos)
    plate = (data.get("plate") or "").strip()
    if plate:
        entries = entries.filter(plate_q(Query.read(plate), "plate"))
    order = (data.get("order") or "").strip()
    if order:
        match = RenewalOrder.objects.filter(out_trade_no=order)
        if parse_id(order) is not None:
            match = RenewalOrder.objects.filter(Q(out_trade_no=order) | Q(pk=parse_id(order)))
        ids = [str(pk) for pk in match.values_list("pk", flat=True)[:5]]
        content_type = ContentType.objects.get_for_model(RenewalOrder)
        entries = entries.filter(content_type=content_type, object_id__in=ids)
    actor = (data.get("actor") or "").strip()
    if actor:
        entries = entries.filter(actor_label__iexact=actor)
    action = (data.get("action") or "").strip()
    if action:
        entries = entries.filter(action__startswith=action)
    if data.get("date_from"):
        entries = entries.filter(created_at__gte=_day_start(data["date_from"]))
    if data.get("date_to"):
        entries = entries.filter(created_at__lt=_day_start(data["date_to"] + dt.timedelta(days=1)))
    return entries.order_by("-created_at", "-id")


def _decorate(entry: LogEntry) -> LogEntry:
    entry.label = action_label(entry.action)
    entry.lines = data_lines(entry)
    return entry


@role_required(SCREEN)
def audit_log(request):
    form = AuditFilterForm(request.GET or None)
    entries = filter_entries(form.cleaned_data if form.is_valid() else {})
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    for entry in page.object_list:
        _decorate(entry)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "screen": SCREEN,
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "common_actions": COMMON_ACTIONS,
    }
    template = (
        "backoffice/audit/_rows.html" if request.headers.get("HX-Request") else "backoffice/audit/log.html"
    )
    return render(request, template, context)


@role_required(SCREEN)
def audit_export(request):
    from openpyxl import Workbook

    from campuspass.core.spreadsheets import xlsx_row

    form = AuditFilterForm(request.GET or None)
    entries = filter_entries(form.cleaned_data if form.is_valid() else {})
    book = Workbook(write_only=True)
    sheet = book.create_sheet("审计日志")
    sheet.append(["时间", "操作人", "操作", "操作代码", "对象", "车牌号", "工号", "原因", "数据"])
    for entry in entries[:EXPORT_LIMIT].iterator(chunk_size=2000):
        sheet.append(
            xlsx_row(
                sheet,
                [
                    timezone.localtime(entry.created_at).strftime("%Y-%m-%d %H:%M:%S"),
                    entry.actor_label,
                    action_label(entry.action),
                    entry.action,
                    entry.object_repr,
                    entry.plate,
                    entry.staff_no,
                    entry.reason,
                    "\n".join(data_lines(entry)),
                ],
            )
        )
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it
    book.save(spool)
    spool.seek(0)
    name = f"审计日志-{timezone.localtime():%Y%m%d-%H%M}.xlsx"
    response = FileResponse(
        spool, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    return response
