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

from campuspass.core.models import LogEntry
from campuspass.core.money import yuan
from campuspass.core.plates import plate_search_variants
from campuspass.registry.models import Staff
from campuspass.renewals.models import RenewalOrder

from .forms import COMMON_ACTIONS, AuditFilterForm
from .roles import role_required

SCREEN = "audit"
PAGE_SIZE = 50
EXPORT_LIMIT = 100_000

ACTION_LABELS = {
    "renewals.order.created": "提交订单",
    "renewals.order.consent_given": "同意知情同意书",
    "renewals.order.paid": "已支付",
    "renewals.order.payment_mismatch": "支付金额不符",
    "renewals.order.duplicate_payment": "重复支付",
    "renewals.order.closed": "订单关闭",
    "renewals.order.approved": "审核通过",
    "renewals.order.rejected": "审核不通过",
    "renewals.order.claimed": "领取审核",
    "renewals.order.released": "释放审核",
    "renewals.order.handed_out": "已发放",
    "renewals.order.delivered": "已送达",
    "renewals.order.courier_assigned": "分派配送",
    "renewals.order.courier_claimed": "认领送证",
    "renewals.order.delivery_failed": "未送达，退回窗口",
    "verification.sms_budget.warning": "验证码短信接近每日上限",
    "verification.sms_budget.exhausted": "验证码短信达到每日上限",
    "renewals.order.fulfilment_changed": "修改领取方式",
    "renewals.order.validity_changed": "有效状态变化",
    "renewals.order.photo_viewed": "查看证件照片",
    "renewals.order.photo_deleted": "删除证件照片",
    "renewals.refund.requested": "申请退款",
    "renewals.refund.submitted": "提交退款",
    "renewals.refund.succeeded": "已退款",
    "renewals.refund.failed": "退款异常",
    "renewals.refund.retried": "重试退款",
    "renewals.campaign.created": "新建续费活动",
    "renewals.campaign.updated": "修改活动设置",
    "renewals.consent.version_added": "新增知情同意书版本",
    "renewals.reject_reason.created": "新增不通过原因",
    "renewals.reject_reason.updated": "修改不通过原因",
    "renewals.reject_reason.activated": "启用不通过原因",
    "renewals.reject_reason.deactivated": "停用不通过原因",
    "renewals.reject_reason.reordered": "调整原因顺序",
    "renewals.holiday.set": "设置节假日",
    "renewals.holiday.removed": "删除节假日",
    "registry.staff.created": "登记职工",
    "registry.staff.updated": "修改职工信息",
    "registry.staff.deleted": "删除职工",
    "registry.vehicle.created": "登记车辆",
    "registry.vehicle.updated": "修改车辆信息",
    "registry.vehicle.deleted": "删除车辆",
    "registry.pass.created": "办理通行证",
    "registry.pass.updated": "修改通行证",
    "registry.pass.deleted": "删除通行证",
    "registry.pass.imported": "导入通行证",
    "registry.import.completed": "导入完成",
    "core.phone.viewed": "查看完整手机号",
    "backoffice.user.created": "新建后台用户",
    "backoffice.user.roles_changed": "修改角色",
    "backoffice.user.activated": "启用账号",
    "backoffice.user.deactivated": "停用账号",
    "backoffice.user.password_reset": "重置密码",
    "backoffice.signin.succeeded": "登录",
    "backoffice.signin.failed": "登录失败",
    "backoffice.export.created": "导出",
    "core.signin.succeeded": "登录",
    "core.signin.failed": "登录失败",
    "core.signin.locked": "账号锁定",
    "core.signout": "退出登录",
    "core.signout.idle": "超时退出",
    "registry.export.created": "导出登记库",
    "renewals.order.payment_not_applied": "支付未入账",
    "renewals.refund.amount_mismatch": "退款金额不符",
    "renewals.refund.notification_mismatch": "退款通知不符",
    "renewals.refund.reopened": "重新发起退款",
    "renewals.reconciliation.completed": "对账完成",
    "payments.notification.unknown_order": "未知订单的支付通知",
    "payments.notification.unknown_refund": "未知退款的通知",
    "sms.outbox.resent": "重发短信",
}

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
    return ACTION_LABELS.get(code, code)


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
        lines.insert(0, f"状态：{_value('status', data['from'])} → {_value('status', data['to'])}")
    for key, value in data.items():
        if key in ("changes", "from", "to"):
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
        entries = entries.filter(plate=plate_search_variants(plate) or "".join(plate.split()).upper())
    order = (data.get("order") or "").strip()
    if order:
        match = RenewalOrder.objects.filter(out_trade_no=order)
        if order.isdigit():
            match = RenewalOrder.objects.filter(Q(out_trade_no=order) | Q(pk=int(order)))
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

    form = AuditFilterForm(request.GET or None)
    entries = filter_entries(form.cleaned_data if form.is_valid() else {})
    book = Workbook(write_only=True)
    sheet = book.create_sheet("审计日志")
    sheet.append(["时间", "操作人", "操作", "操作代码", "对象", "车牌号", "工号", "原因", "数据"])
    for entry in entries[:EXPORT_LIMIT].iterator(chunk_size=2000):
        sheet.append(
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
            ]
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
