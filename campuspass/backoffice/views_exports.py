"""导出: .xlsx downloads of orders, refunds, pickups and deliveries, and the new year's passes in
the registry import format. Each download is written to a temporary file and streamed."""

from __future__ import annotations

import tempfile

from django.contrib import messages
from django.http import FileResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from campuspass.core.errors import CampusPassError
from campuspass.core.models import LogEntry
from campuspass.renewals.models import Campaign, Refund, RenewalOrder
from campuspass.renewals.selectors import current_campaign

from .exports import (
    FULFILMENT_STATES,
    KINDS,
    XLSX_MAX_ORDERS,
    export_create,
    order_count,
    parse_filters,
    stream_orders_csv,
)
from .roles import role_required

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@role_required("exports")
@require_GET
def exports(request):
    campaign = current_campaign()
    return render(
        request,
        "backoffice/exports/exports.html",
        {
            "screen": "exports",
            "campaign": campaign,
            "campaigns": Campaign.objects.order_by("-year"),
            "order_statuses": RenewalOrder.Status.choices,
            "refund_statuses": Refund.Status.choices,
            "fulfilments": RenewalOrder.Fulfilment.choices,
            "states": FULFILMENT_STATES.items(),
            "recent": LogEntry.objects.filter(action="backoffice.export.created").order_by("-created_at")[
                :10
            ],
            "kinds": KINDS,
        },
    )


@role_required("exports")
@require_GET
def download(request, kind: str, fmt: str = "xlsx"):
    try:
        filters = parse_filters(kind, request.GET)
    except CampusPassError as exc:
        messages.error(request, exc.message)
        return redirect("backoffice:exports")
    if fmt == "csv" and kind != "orders":
        messages.error(request, "只有续费订单可以导出为 CSV，其他导出请下载 Excel 文件。")
        return redirect("backoffice:exports")
    if kind == "orders":
        if fmt == "csv" or request.GET.get("format") == "csv":
            file_name, lines = stream_orders_csv(filters, acting_user=request.user)
            response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = content_disposition_header(True, file_name)
            return response
        if order_count(filters, XLSX_MAX_ORDERS) > XLSX_MAX_ORDERS:
            messages.error(
                request,
                f"符合条件的订单超过 {XLSX_MAX_ORDERS:,} 条，Excel 文件无法及时生成。"
                "请点“导出订单（CSV）”（Excel 可直接打开），或按状态、日期缩小范围后再导出 Excel。",
            )
            return redirect("backoffice:exports")
    # Not a `with` block: FileResponse closes (and so deletes) the file once it has been sent.
    spool = tempfile.TemporaryFile(prefix="campuspass-export-")  # noqa: SIM115
    try:
        file_name, _rows = export_create(kind=kind, filters=filters, stream=spool, acting_user=request.user)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    # FileResponse streams the file and closes (so deletes) it; a non-ASCII name is sent as
    # RFC 5987 filename*=utf-8''…
    return FileResponse(spool, as_attachment=True, filename=file_name, content_type=XLSX)
