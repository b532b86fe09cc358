"""Spreadsheet cells that cannot run code (CSV/formula injection).

Finance and the security office open our exports in Excel or WPS. A text cell whose value starts
with `=`, `+`, `-`, `@`, a tab or a carriage return can be taken for a formula (a delivery address
"=HYPERLINK(…)", an imported name "@SUM(…)"). Every row of every export goes through `xlsx_row`
(or `csv_row`):

- .xlsx: such a cell is written as a string cell (`t="inlineStr"`, never `<f>`) with the text
  number format `@`, so Excel shows the characters and does not evaluate them even when the cell is
  edited; the value itself is unchanged, so the registry export still imports back exactly.
- .csv: such a value gets a leading apostrophe (the OWASP advice), which spreadsheet programs
  hide; CSV has no cell types.
- Characters that XML cannot hold (NUL and the other C0 controls except tab, newline and CR) are
  dropped instead of making openpyxl raise in the middle of an export.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def starts_like_a_formula(value: Any) -> bool:
    return isinstance(value, str) and value[:1] in FORMULA_TRIGGERS


def _clean(text: str) -> str:
    return ILLEGAL_CHARACTERS_RE.sub("", text)


def xlsx_cell(sheet, value: Any) -> Any:
    """A value or WriteOnlyCell for a write-only sheet's `append`, never a formula."""
    if isinstance(value, Cell):
        if isinstance(value.value, str):
            text = _clean(value.value)
            if text != value.value or starts_like_a_formula(text):
                _set_text(value, text)
        return value
    if isinstance(value, str):
        text = _clean(value)
        if starts_like_a_formula(text):
            cell = WriteOnlyCell(sheet, value=None)
            _set_text(cell, text)
            return cell
        return text
    return value


def _set_text(cell: Cell, text: str) -> None:
    cell._value = text  # assigned directly: the `value` setter would make "=…" a formula
    cell.data_type = "s"
    if starts_like_a_formula(text):
        cell.number_format = "@"


def xlsx_row(sheet, values: Iterable[Any]) -> list[Any]:
    return [xlsx_cell(sheet, value) for value in values]


def csv_cell(value: Any) -> Any:
    if isinstance(value, str):
        value = _clean(value)
        if starts_like_a_formula(value):
            return "'" + value
    return value


def csv_row(values: Iterable[Any]) -> list[Any]:
    return [csv_cell(value) for value in values]
