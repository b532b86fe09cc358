"""The registry as .xlsx, in the import's format (columns.HEADERS), so that an export re-imports
unchanged. Written with openpyxl's write-only mode and read from the database in chunks: 100,000
passes never sit in memory at once."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from campuspass.core import plate_kinds
from campuspass.core.audit import log_action
from campuspass.core.spreadsheets import xlsx_row

from .columns import HEADERS
from .models import Pass, Staff

__all__ = ["export_file_name", "export_passes"]

READ_CHUNK = 2000
_STAFF_LABEL = dict(Staff.Status.choices)
_REVIEW_LABEL = dict(Pass.ReviewStatus.choices)
_COLUMNS = (
    "holder__staff_no",
    "holder__name",
    "holder__department",
    "holder__mobile",
    "holder__status",
    "vehicle__plate",
    "vehicle__vehicle_type",
    "vehicle__brand_model",
    "vehicle__color",
    "vehicle__plate_colour",
    "vehicle__plate_type",
    "number",
    "year",
    "review_status",
    "valid_from",
    "valid_to",
)
assert len(_COLUMNS) == len(HEADERS)
_WIDTHS = (12, 10, 20, 14, 9, 12, 14, 16, 9, 9, 14, 16, 7, 10, 12, 12)
TEXT_COLUMNS = {"工号", "手机号", "车牌号", "通行证编号"}  # digits that must stay text in Excel


def export_file_name(year: int | None) -> str:
    return f"通行证登记表-{year}.xlsx" if year else "通行证登记表-全部年度.xlsx"


def export_passes(
    *,
    year: int | None = None,
    stream: IO[bytes] | None = None,
    path: Path | str | None = None,
    acting_user: Any = None,
    reason: str = "",
) -> int:
    """Write the passes (of `year`, or all) to `stream` or `path`; returns the number of rows.
    The export is recorded in the audit log (it is personal data leaving the system)."""
    if (stream is None) == (path is None):
        raise TypeError("export_passes needs exactly one of stream= or path=")
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(f"{year}年度通行证" if year else "通行证")
    for index, width in enumerate(_WIDTHS):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    sheet.freeze_panes = "A2"

    bold = Font(bold=True)
    header = []
    for name in HEADERS:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        header.append(cell)
    sheet.append(header)

    def text_cell(value: str) -> WriteOnlyCell:
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "@"
        return cell

    def date_cell(value) -> WriteOnlyCell | None:
        if value is None:
            return None
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "yyyy-mm-dd"
        return cell

    queryset = Pass.objects.order_by("year", "number").values_list(*_COLUMNS)
    if year is not None:
        queryset = queryset.filter(year=year)
    rows = 0
    for (
        staff_no,
        name,
        department,
        mobile,
        status,
        plate,
        vehicle_type,
        brand_model,
        color,
        plate_colour,
        plate_type,
        number,
        pass_year,
        review_status,
        valid_from,
        valid_to,
    ) in queryset.iterator(chunk_size=READ_CHUNK):
        sheet.append(
            xlsx_row(
                sheet,
                [
                    text_cell(staff_no),
                    name,
                    department,
                    text_cell(mobile),
                    _STAFF_LABEL.get(status, status),
                    text_cell(plate),
                    vehicle_type,
                    brand_model,
                    color,
                    plate_kinds.COLOUR_LABELS.get(plate_colour, plate_colour),
                    plate_kinds.TYPE_LABELS.get(plate_type, plate_type),
                    text_cell(number),
                    pass_year,
                    _REVIEW_LABEL.get(review_status, review_status),
                    date_cell(valid_from),
                    date_cell(valid_to),
                ],
            )
        )
        rows += 1
    workbook.save(stream if stream is not None else str(path))
    log_action(
        actor=acting_user,
        action="registry.export.created",
        reason=reason or "导出通行证登记表",
        data={"rows": rows, "year": year, "file": Path(path).name if path else export_file_name(year)},
    )
    return rows
