"""The back office's .xlsx exports: orders, refunds, pickups and deliveries, and the new year's
passes in the registry import format (so next year's renewal imports it). Written with openpyxl's
write-only mode from chunked queries, so a year of 100,000 orders never sits in memory; every export
is recorded in the audit log (personal data leaving the system)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Any

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from campuspass.core.audit import log_action
from campuspass.core.errors import CampusPassError
from campuspass.core.fieldrules import parse_year
from campuspass.core.money import yuan
from campuspass.core.phones import mask_phone
from campuspass.core.spreadsheets import csv_row, xlsx_row
from campuspass.registry.exports import export_passes
from campuspass.renewals.buildings import building_of
from campuspass.renewals.models import Campaign, Payment, Refund, RenewalOrder

READ_CHUNK = 2000
KINDS = {
    "orders": "续费订单",
    "payments": "收款记录",
    "refunds": "退款记录",
    "fulfilment": "领取与送证",
    "passes": "新年度通行证",
}
ORDER_HEADERS = [
    "订单号",
    "车牌号",
    "工号",
    "姓名",
    "部门",
    "手机号",
    "状态",
    "金额(元)",
    "下单时间",
    "支付时间",
    "审核时间",
    "审核人",
    "不通过原因",
    "领取方式",
    "地址",
    "发放时间",
]
REFUND_HEADERS = [
    "退款单号",
    "订单号",
    "车牌号",
    "工号",
    "姓名",
    "退款金额(元)",
    "实付金额(元)",
    "状态",
    "平台状态",
    "微信退款单号",
    "提交次数",
    "最近错误",
    "退款原因",
    "申请人",
    "申请时间",
    "完成时间",
]
PAYMENT_HEADERS = [
    "付款时间",
    "支付方式",
    "凭证号",
    "金额(元)",
    "已退(元)",
    "状态",
    "用途",
    "订单号",
    "车牌号",
    "工号",
    "姓名",
    "新证编号",
    "登记人",
]
FULFILMENT_HEADERS = [
    "订单号",
    "车牌号",
    "工号",
    "姓名",
    "部门",
    "手机号",
    "新证编号",
    "有效期起",
    "有效期止",
    "领取方式",
    "楼宇",
    "地址",
    "可领取日期",
    "配送员",
    "发放状态",
    "发放时间",
    "发放人",
    "旧证已收回",
    "工作证已核验",
]
FULFILMENT_STATES = {"": "全部", "pending": "待发放", "done": "已发放"}
_ORDER_STATUS = dict(RenewalOrder.Status.choices)
_VALIDITY = dict(RenewalOrder.Validity.choices)
_FULFILMENT = dict(RenewalOrder.Fulfilment.choices)
_HANDOVER = dict(RenewalOrder.Handover.choices)
_REFUND_STATUS = dict(Refund.Status.choices)


class _Sheet:
    """A write-only sheet with a bold header, column widths and typed cells."""

    def __init__(self, workbook: Workbook, title: str, headers: list[str], widths: list[int]):
        self.sheet = workbook.create_sheet(title)
        for index, width in enumerate(widths):
            self.sheet.column_dimensions[get_column_letter(index + 1)].width = width
        self.sheet.freeze_panes = "A2"
        bold = Font(bold=True)
        row = []
        for name in headers:
            cell = WriteOnlyCell(self.sheet, value=name)
            cell.font = bold
            row.append(cell)
        self.sheet.append(row)
        self.rows = 0

    def text(self, value: str) -> WriteOnlyCell:
        cell = WriteOnlyCell(self.sheet, value=value or "")
        cell.number_format = "@"  # staff numbers and pass numbers must stay text in Excel
        return cell

    def when(self, value: dt.datetime | None) -> WriteOnlyCell | None:
        if value is None:
            return None
        # Excel has no time zones: write the Beijing wall-clock time.
        cell = WriteOnlyCell(self.sheet, value=timezone.localtime(value).replace(tzinfo=None))
        cell.number_format = "yyyy-mm-dd hh:mm:ss"
        return cell

    def day(self, value: dt.date | None) -> WriteOnlyCell | None:
        if value is None:
            return None
        cell = WriteOnlyCell(self.sheet, value=value)
        cell.number_format = "yyyy-mm-dd"
        return cell

    def money(self, fen: int) -> WriteOnlyCell:
        cell = WriteOnlyCell(self.sheet, value=Decimal(yuan(fen)))
        cell.number_format = "0.00"
        return cell

    def append(self, values: list[Any]) -> None:
        self.sheet.append(xlsx_row(self.sheet, values))  # no cell can become a formula
        self.rows += 1


def _day_range(field: str, date_from: dt.date | None, date_to: dt.date | None) -> dict[str, dt.datetime]:
    """Whole Beijing days, inclusive at both ends."""
    bounds = {}
    if date_from:
        bounds[f"{field}__gte"] = timezone.make_aware(dt.datetime.combine(date_from, dt.time.min))
    if date_to:
        bounds[f"{field}__lt"] = timezone.make_aware(
            dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min)
        )
    return bounds


def _label_user(username: str | None, first: str | None = "", last: str | None = "") -> str:
    full = f"{last or ''}{first or ''}".strip()
    return full or username or ""


def parse_filters(kind: str, params: Any) -> dict[str, Any]:
    """The export's filters from a query string, checked. Raises CampusPassError with what to fix."""
    if kind not in KINDS:
        raise CampusPassError("没有这种导出，请从“导出”页面选择。", code="unknown_export")
    filters: dict[str, Any] = {}
    if kind in {"orders", "fulfilment", "passes", "payments"}:
        year = (params.get("year") or "").strip()
        campaign = Campaign.objects.filter(year=parse_year(year)).first() if parse_year(year) else None
        if campaign is None:
            campaign = _default_campaign()
        if campaign is None:
            raise CampusPassError("还没有续费活动，无法导出。请先在“设置”中创建活动。", code="no_campaign")
        filters["year"] = campaign.year
    if kind in {"orders", "refunds"}:
        statuses = _ORDER_STATUS if kind == "orders" else _REFUND_STATUS
        status = (params.get("status") or "").strip()
        if status and status not in statuses:
            raise CampusPassError("所选状态无效，请重新选择。", code="bad_status")
        filters["status"] = status
        for name, label in (("date_from", "开始日期"), ("date_to", "结束日期")):
            raw = (params.get(name) or "").strip()
            if not raw:
                filters[name] = ""
                continue
            try:
                filters[name] = dt.date.fromisoformat(raw).isoformat()
            except ValueError:
                raise CampusPassError(
                    f"{label}“{raw}”不是有效日期，请按 2019-06-12 的格式选择。", code="bad_date"
                ) from None
        if filters["date_from"] and filters["date_to"] and filters["date_from"] > filters["date_to"]:
            raise CampusPassError("开始日期晚于结束日期，请重新选择日期范围。", code="bad_range")
    if kind == "fulfilment":
        fulfilment = (params.get("fulfilment") or "").strip()
        if fulfilment and fulfilment not in _FULFILMENT:
            raise CampusPassError("所选领取方式无效，请重新选择。", code="bad_fulfilment")
        state = (params.get("state") or "").strip()
        if state not in FULFILMENT_STATES:
            raise CampusPassError("所选发放状态无效，请重新选择。", code="bad_state")
        filters["fulfilment"] = fulfilment
        filters["state"] = state
    return filters


def _default_campaign() -> Campaign | None:
    from campuspass.renewals.selectors import current_campaign

    return current_campaign()


def _date(value: str) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def order_rows(filters: dict[str, Any]) -> QuerySet:
    orders = RenewalOrder.objects.filter(campaign__year=filters["year"])
    if filters.get("status"):
        orders = orders.filter(status=filters["status"])
    orders = orders.filter(
        **_day_range("created_at", _date(filters.get("date_from", "")), _date(filters.get("date_to", "")))
    )
    return orders.order_by("created_at", "pk")


ORDER_COLUMNS = (
    "out_trade_no",
    "plate",
    "staff__staff_no",
    "staff__name",
    "staff__department",
    "staff__mobile",
    "status",
    "validity",
    "amount_fen",
    "created_at",
    "paid_at",
    "decided_at",
    "decided_by__username",
    "decided_by__first_name",
    "decided_by__last_name",
    "reject_reason",
    "fulfilment",
    "delivery_address",
    "handed_out_at",
    "fulfilment_status",
)
# What one order row becomes, column by column: "text" (kept as text in Excel), "money" (fen →
# yuan), "when" (Beijing wall-clock time) or "plain". Shared by the .xlsx and the streamed CSV.
ORDER_KINDS = (
    "text", "text", "text", "plain", "plain", "text", "plain", "money",
    "when", "when", "when", "plain", "plain", "plain", "plain", "when",
)  # fmt: skip


def _order_values(row: tuple) -> list[Any]:
    (no, plate, staff_no, name, dept, mobile, status, validity, amount, created, paid, decided) = row[:12]
    reviewer = _label_user(row[12], row[13], row[14])
    reason, fulfilment, address, handed_out, handover = row[15:]
    # As RenewalOrder.status_label: where the pass is (the FULFILMENT axis) until it is in hand, then
    # its validity.
    label = None
    if status == RenewalOrder.Status.APPROVED:
        if handover in RenewalOrder.WAITING_HANDOVER:
            label = _HANDOVER.get(handover)
        elif validity:
            label = _VALIDITY.get(validity)
    return [
        no,
        plate,
        staff_no,
        name,
        dept,
        mask_phone(mobile),
        label or _ORDER_STATUS.get(status, status),
        amount,
        created,
        paid,
        decided,
        reviewer,
        reason,
        _FULFILMENT.get(fulfilment, fulfilment),
        address,
        handed_out,
    ]


def _order_tuples(filters: dict[str, Any]):
    return order_rows(filters).values_list(*ORDER_COLUMNS).iterator(chunk_size=READ_CHUNK)


def write_orders(workbook: Workbook, filters: dict[str, Any]) -> int:
    sheet = _Sheet(
        workbook, "续费订单", ORDER_HEADERS, [34, 11, 12, 10, 18, 13, 10, 10, 19, 19, 19, 10, 24, 12, 28, 19]
    )
    cell = {"text": sheet.text, "money": sheet.money, "when": sheet.when, "plain": lambda value: value}
    for row in _order_tuples(filters):
        sheet.append([cell[kind](value) for kind, value in zip(ORDER_KINDS, _order_values(row), strict=True)])
    return sheet.rows


# Above this many orders the .xlsx is refused with a pointer to the CSV: openpyxl builds the whole
# workbook before the first byte can be sent (about 30 s for 500,000 orders, past the web
# server's timeout), while the CSV is streamed as it is read (issue 13).
XLSX_MAX_ORDERS = 100_000


def order_count(filters: dict[str, Any], cap: int = XLSX_MAX_ORDERS) -> int:
    """How many orders the export holds, counted only up to ``cap + 1``."""
    return order_rows(filters).order_by()[: cap + 1].count()


def _csv_text(kind: str, value: Any) -> str:
    if value is None:
        return ""
    if kind == "money":
        return yuan(value)
    if kind == "when":
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
    return value if isinstance(value, str) else str(value)


def stream_orders_csv(filters: dict[str, Any], *, acting_user: Any) -> tuple[str, Iterator[bytes]]:
    """The orders export as CSV (UTF-8 with a BOM, so Excel opens it in Chinese), produced while it
    is read: a chunked query, one encoded block per chunk, bounded memory whatever the year's size.
    Recorded in the audit log when it starts (the rows are not known before the end)."""
    file_name = export_file_name("orders", filters).removesuffix(".xlsx") + ".csv"
    log_action(
        actor=acting_user,
        action="backoffice.export.created",
        reason=f"导出{KINDS['orders']}（CSV）",
        data={"kind": "orders", "filters": filters, "rows": None, "file": file_name},
    )

    def lines() -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(ORDER_HEADERS)
        yield "\ufeff".encode() + buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
        for count, row in enumerate(_order_tuples(filters), start=1):
            values = _order_values(row)
            writer.writerow(csv_row(_csv_text(k, v) for k, v in zip(ORDER_KINDS, values, strict=True)))
            if count % READ_CHUNK == 0:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode()

    return file_name, lines()


def write_refunds(workbook: Workbook, filters: dict[str, Any]) -> int:
    sheet = _Sheet(
        workbook, "退款记录", REFUND_HEADERS, [34, 34, 11, 12, 10, 12, 12, 11, 12, 32, 9, 30, 18, 10, 19, 19]
    )
    refunds = Refund.objects.all()
    if filters.get("status"):
        refunds = refunds.filter(status=filters["status"])
    refunds = refunds.filter(
        **_day_range("created_at", _date(filters.get("date_from", "")), _date(filters.get("date_to", "")))
    ).order_by("created_at", "pk")
    columns = (
        "out_refund_no",
        "order__out_trade_no",
        "order__plate",
        "order__staff__staff_no",
        "order__staff__name",
        "amount_fen",
        "payment__amount_fen",
        "status",
        "platform_status",
        "refund_id",
        "attempts",
        "last_error",
        "reason",
        "requested_by__username",
        "created_at",
        "finished_at",
        "requested_by__first_name",
        "requested_by__last_name",
    )
    for row in refunds.values_list(*columns).iterator(chunk_size=READ_CHUNK):
        (no, trade_no, plate, staff_no, name, amount, paid, status, platform, refund_id, attempts) = row[:11]
        error, reason, requester, created, finished = row[11:16]
        requester = _label_user(requester, row[16], row[17])
        sheet.append(
            [
                sheet.text(no),
                sheet.text(trade_no),
                sheet.text(plate),
                sheet.text(staff_no),
                name,
                sheet.money(amount),
                sheet.money(paid),
                _REFUND_STATUS.get(status, status),
                platform,
                sheet.text(refund_id),
                attempts,
                error,
                reason,
                requester or "职工本人",
                sheet.when(created),
                sheet.when(finished),
            ]
        )
    return sheet.rows


def write_payments(workbook: Workbook, filters: dict[str, Any]) -> int:
    """The ledger of one campaign: every sum of money taken (WeChat, cash, card), what went back."""
    sheet = _Sheet(
        workbook, "收款记录", PAYMENT_HEADERS, [19, 10, 34, 11, 11, 10, 12, 34, 11, 12, 10, 16, 10]
    )
    done = Q(refunds__status__in=Refund.DONE_STATUSES)
    payments = (
        Payment.objects.filter(campaign__year=filters["year"])
        .annotate(refunded=Coalesce(Sum("refunds__amount_fen", filter=done), 0))
        .order_by("paid_at", "pk")
    )
    columns = (
        "paid_at",
        "method",
        "reference",
        "amount_fen",
        "refunded",
        "state",
        "kind",
        "order__out_trade_no",
        "order__plate",
        "order__staff__staff_no",
        "order__staff__name",
        "new_pass__number",
        "recorded_by__username",
        "recorded_by__first_name",
        "recorded_by__last_name",
    )
    methods, states, kinds = (
        dict(c) for c in (Payment.Method.choices, Payment.State.choices, Payment.Kind.choices)
    )
    for row in payments.values_list(*columns).iterator(chunk_size=READ_CHUNK):
        (
            paid_at,
            method,
            reference,
            amount,
            refunded,
            state,
            kind,
            trade_no,
            plate,
            staff_no,
            name,
            number,
            clerk,
            clerk_first,
            clerk_last,
        ) = row
        clerk = _label_user(clerk, clerk_first, clerk_last)  # a name, as in the other exports
        sheet.append(
            [
                sheet.when(paid_at),
                methods.get(method, method),
                sheet.text(reference),
                sheet.money(amount),
                sheet.money(refunded),
                states.get(state, state),
                kinds.get(kind, kind),
                sheet.text(trade_no),
                sheet.text(plate),
                sheet.text(staff_no),
                name or "",
                sheet.text(number),
                clerk or "系统",
            ]
        )
    return sheet.rows


def write_fulfilment(workbook: Workbook, filters: dict[str, Any]) -> int:
    sheet = _Sheet(
        workbook,
        "领取与送证",
        FULFILMENT_HEADERS,
        [34, 11, 12, 10, 18, 13, 16, 12, 12, 12, 14, 28, 12, 10, 10, 19, 10, 10, 10],
    )
    orders = RenewalOrder.objects.filter(campaign__year=filters["year"], status=RenewalOrder.Status.APPROVED)
    if filters.get("fulfilment"):
        orders = orders.filter(fulfilment=filters["fulfilment"])
    if filters.get("state") == "pending":
        orders = orders.filter(fulfilment_status__in=RenewalOrder.WAITING_HANDOVER)
    elif filters.get("state") == "done":
        orders = orders.filter(fulfilment_status__in=RenewalOrder.HANDED_OVER)
    columns = (
        "out_trade_no",
        "plate",
        "staff__staff_no",
        "staff__name",
        "staff__department",
        "staff__mobile",
        "new_pass__number",
        "new_pass__valid_from",
        "new_pass__valid_to",
        "fulfilment",
        "delivery_address",
        "pickup_from",
        "courier__username",
        "handed_out_at",
        "handed_out_by__username",
        "old_pass_collected",
        "id_checked",
        # Names, as the orders export shows its 审核人 (issue 14).
        "courier__first_name",
        "courier__last_name",
        "handed_out_by__first_name",
        "handed_out_by__last_name",
        "fulfilment_status",
    )
    for row in (
        orders.order_by("fulfilment", "decided_at", "pk")
        .values_list(*columns)
        .iterator(chunk_size=READ_CHUNK)
    ):
        (no, plate, staff_no, name, dept, mobile, pass_no, valid_from, valid_to, fulfilment, address) = row[
            :11
        ]
        pickup_from, courier, handed_out, handed_by, old_collected, id_checked = row[11:17]
        courier = _label_user(courier, row[17], row[18])
        handed_by = _label_user(handed_by, row[19], row[20])
        handover = row[21]
        # Collected at the counter although delivery was chosen: no building, the counter did it.
        delivery = (
            fulfilment == RenewalOrder.Fulfilment.DELIVERY and handover != RenewalOrder.Handover.COLLECTED
        )
        sheet.append(
            [
                sheet.text(no),
                sheet.text(plate),
                sheet.text(staff_no),
                name,
                dept,
                sheet.text(mask_phone(mobile)),
                sheet.text(pass_no),
                sheet.day(valid_from),
                sheet.day(valid_to),
                _FULFILMENT.get(fulfilment, fulfilment),
                building_of(address) if delivery else "",
                address,
                sheet.day(pickup_from),
                courier or "",
                _HANDOVER.get(handover, "已发放" if handed_out else "待发放"),
                sheet.when(handed_out),
                handed_by or "",
                "是" if old_collected else "否",
                "是" if id_checked else "否",
            ]
        )
    return sheet.rows


def export_file_name(kind: str, filters: dict[str, Any]) -> str:
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    year = f"{filters['year']}年度-" if filters.get("year") else ""
    return f"{KINDS[kind]}-{year}{stamp}.xlsx"


def export_create(
    *, kind: str, filters: dict[str, Any], stream: IO[bytes], acting_user: Any
) -> tuple[str, int]:
    """Write one export (`parse_filters` output) to `stream` and record it in the audit log;
    returns (file name, rows). Raises CampusPassError for an unknown kind."""
    if kind not in KINDS:
        raise CampusPassError("没有这种导出，请从“导出”页面选择。", code="unknown_export")
    file_name = export_file_name(kind, filters)
    if kind == "passes":
        # The registry's own export, so the file is exactly what next year's import reads.
        rows = export_passes(
            year=filters["year"], stream=stream, acting_user=acting_user, reason="后台导出新年度通行证"
        )
    else:
        workbook = Workbook(write_only=True)
        writer = {
            "orders": write_orders,
            "payments": write_payments,
            "refunds": write_refunds,
            "fulfilment": write_fulfilment,
        }[kind]
        rows = writer(workbook, filters)
        workbook.save(stream)
    log_action(
        actor=acting_user,
        action="backoffice.export.created",
        reason=f"导出{KINDS[kind]}",
        data={"kind": kind, "filters": filters, "rows": rows, "file": file_name},
    )
    return file_name, rows
