"""The audit log screen ("审计日志"): every state change and every view of a full phone number or an
ID photo, searchable by person, plate, order, actor, action and date; newest first; .xlsx export."""

from __future__ import annotations

import datetime as dt
import tempfile
from urllib.parse import quote

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet
from django.http import FileResponse
from django.shortcuts import render
from django.utils import timezone

from campuspass.core.audit import beijing_time, describe
from campuspass.core.audit_catalogue import codes_for_filter
from campuspass.core.audit_catalogue import label as catalogue_label
from campuspass.core.audit_catalogue import labels as catalogue_labels
from campuspass.core.fieldrules import parse_id
from campuspass.core.models import LogEntry
from campuspass.core.paging import CappedPaginator
from campuspass.registry.models import Staff
from campuspass.registry.selectors import Query, plate_q
from campuspass.renewals.models import RenewalOrder

from .forms import COMMON_ACTIONS, AuditFilterForm
from .roles import role_required

SCREEN = "audit"
PAGE_SIZE = 50
EXPORT_LIMIT = 100_000

# Labels come from the one catalogue of audit actions (campuspass.core.audit_catalogue).
ACTION_LABELS = catalogue_labels()


def action_label(code: str) -> str:
    return catalogue_label(code)


def data_lines(entry: LogEntry) -> list[str]:
    """The entry's data as lines a person reads (labels from the catalogue, Beijing time)."""
    return describe(entry)


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
        entries = entries.filter(staff_no__any=staff_nos)
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
        # Also the entries written under a code renamed since (e.g. photo views before the photo
        # became a document): "who viewed this photo" must not miss them.
        entries = entries.filter(Q(action__startswith=action) | Q(action__in=codes_for_filter(action)))
    if data.get("date_from"):
        entries = entries.filter(created_at__gte=_day_start(data["date_from"]))
    if data.get("date_to"):
        entries = entries.filter(created_at__lt=_day_start(data["date_to"] + dt.timedelta(days=1)))
    return entries.order_by("-created_at", "-id")


def _decorate(entry: LogEntry) -> LogEntry:
    entry.label = action_label(entry.action)
    entry.time = beijing_time(entry.created_at)
    entry.lines = data_lines(entry)
    return entry


@role_required(SCREEN)
def audit_log(request):
    form = AuditFilterForm(request.GET or None)
    entries = filter_entries(form.cleaned_data if form.is_valid() else {})
    page = CappedPaginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
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
                    beijing_time(entry.created_at),
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
