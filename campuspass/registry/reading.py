"""Reading registry files row by row: .xlsx, or .csv in UTF-8 (with or without BOM), GB18030 or
UTF-16 (Excel's "Unicode text"). Nothing here reads a whole file into memory.

A file is recognised by its content, never by its name: a renamed spreadsheet still works and a
renamed picture is refused with a message a clerk can act on.
"""

from __future__ import annotations

import codecs
import csv
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from campuspass.core.errors import CampusPassError

from .columns import HEADERS, OPTIONAL, REQUIRED
from .fields import cell_text as clean_text

SNIFF_BYTES = 64 * 1024
HEADER_SEARCH_ROWS = 10
SAVE_AS_HINT = "请在 Excel 中“另存为”.xlsx 或 CSV（逗号分隔）后重新导入。"


class ImportFileError(CampusPassError):
    """The whole file is refused before anything is written."""


@dataclass
class Table:
    header_row: int
    columns: dict[str, int]
    rows: Iterator[tuple[int, tuple]]
    total_rows: int | None


def _header_name(value: object) -> str:
    return "".join(clean_text(value).split()).strip("*＊")


def _find_header(first_rows: list[tuple[int, tuple]], year_given: bool) -> tuple[int, dict[str, int]]:
    known = set(HEADERS)
    for row_number, values in first_rows:
        names = [_header_name(v) for v in values]
        if len(known.intersection(names)) < 2:
            continue
        columns: dict[str, int] = {}
        for index, name in enumerate(names):
            if name not in known:
                continue
            if name in columns:
                raise ImportFileError(
                    f"第{row_number}行表头中“{name}”列出现了两次，无法确定使用哪一列。请删除重复的列后重新导入。"
                )
            columns[name] = index
        required = list(REQUIRED) + ([] if year_given else ["年度"])
        missing = [name for name in required if name not in columns]
        if missing:
            extra = "（或导入时指定年度）" if "年度" in missing else ""
            raise ImportFileError(
                f"文件缺少必需的列：{'、'.join(missing)}{extra}。"
                f"表头须包含：{'、'.join(required)}"
                f"{'' if year_given else '（年度也可在导入时指定）'}；可选列：{'、'.join(OPTIONAL)}。"
            )
        return row_number, columns
    raise ImportFileError(
        "未找到表头行：文件第一行应为列名（工号、姓名、手机号、人员状态、车牌号、通行证编号、年度、审核状态…）。"
        "请使用导出的模板格式后重新导入。"
    )


def _non_empty(rows: Iterator[tuple[int, tuple]]) -> Iterator[tuple[int, tuple]]:
    for row_number, values in rows:
        if any(clean_text(v) for v in values):
            yield row_number, values


def _table_from_rows(rows: Iterator[tuple[int, tuple]], total_rows: int | None, year_given: bool) -> Table:
    rows = _non_empty(rows)
    first_rows = []
    for item in rows:
        first_rows.append(item)
        if len(first_rows) >= HEADER_SEARCH_ROWS:
            break
    if not first_rows:
        raise ImportFileError("文件中没有任何数据（空文件或只有空行）。请检查所选文件后重新导入。")
    header_row, columns = _find_header(first_rows, year_given)

    def data_rows() -> Iterator[tuple[int, tuple]]:
        for row_number, values in first_rows:
            if row_number > header_row:
                yield row_number, values
        yield from rows

    remaining = None if total_rows is None else max(total_rows - header_row, 0)
    return Table(header_row=header_row, columns=columns, rows=data_rows(), total_rows=remaining)


def _detect_text_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    # The sample may end in the middle of a character: decode incrementally without finishing.
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(head, final=False)
        return "gb18030"
    except UnicodeDecodeError:
        raise ImportFileError(
            "无法识别文件的文字编码。CSV 文件请使用 UTF-8 或 GB18030（Excel 默认）编码，" + SAVE_AS_HINT
        ) from None


def _csv_dialect(first_line: str) -> str:
    counts = {delimiter: first_line.count(delimiter) for delimiter in (",", "\t", ";")}
    return max(counts, key=counts.get) if any(counts.values()) else ","


def _count_lines(path: Path) -> int:
    count = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            count += block.count(b"\n")
    return count + 1


@contextmanager
def _open_csv(path: Path, head: bytes, year_given: bool) -> Iterator[Table]:
    encoding = _detect_text_encoding(head)
    with open(path, encoding=encoding, newline="") as handle:
        try:
            first_line = handle.readline()
            handle.seek(0)
            reader = csv.reader(handle, delimiter=_csv_dialect(first_line))

            def rows() -> Iterator[tuple[int, tuple]]:
                try:
                    for row_number, values in enumerate(reader, start=1):
                        yield row_number, tuple(values)
                except UnicodeDecodeError:
                    raise ImportFileError(
                        f"文件在第{reader.line_num + 1}行附近含有无法识别的字符（编码不一致）。"
                        + SAVE_AS_HINT
                    ) from None
                except csv.Error as exc:
                    raise ImportFileError(
                        f"CSV 格式错误（第{reader.line_num}行附近）：{exc}。" + SAVE_AS_HINT
                    ) from None

            total = None if encoding == "utf-16" else _count_lines(path)
            yield _table_from_rows(rows(), total, year_given)
        except UnicodeDecodeError:
            raise ImportFileError("文件含有无法识别的字符（编码不一致）。" + SAVE_AS_HINT) from None


@contextmanager
def _open_xlsx(path: Path, year_given: bool) -> Iterator[Table]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    # A file object, not the path: openpyxl refuses paths that do not end in .xlsx, and a registry
    # saved as "名单.xlsx.csv" or without an extension is still a workbook.
    handle = open(path, "rb")  # noqa: SIM115 - closed in the finally below, after streaming
    try:
        workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, TypeError):
        handle.close()
        raise ImportFileError(
            "无法读取这个 Excel 文件：文件已损坏，或不是 .xlsx 格式。" + SAVE_AS_HINT
        ) from None
    try:
        table = None
        first_error: ImportFileError | None = None
        # The registry may not be on the first sheet: use the first sheet that has a header.
        for sheet in workbook.worksheets:
            if not hasattr(sheet, "iter_rows"):
                continue
            try:
                rows = (
                    (number, values) for number, values in enumerate(sheet.iter_rows(values_only=True), 1)
                )
                table = _table_from_rows(rows, sheet.max_row, year_given)
                break
            except ImportFileError as exc:
                first_error = first_error or exc
        if table is None:
            raise first_error or ImportFileError("Excel 文件中没有工作表。" + SAVE_AS_HINT)
        yield table
    finally:
        workbook.close()
        handle.close()


@contextmanager
def open_table(path: Path, *, year_given: bool) -> Iterator[Table]:
    """Open a registry file and find its header; raises ImportFileError for a file that cannot be
    imported at all."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError:
        raise ImportFileError("无法打开文件，请重新选择文件后导入。") from None
    if not head.strip():
        raise ImportFileError("文件是空的，没有任何内容。请检查所选文件后重新导入。")
    if head.startswith(b"PK\x03\x04"):
        opener = _open_xlsx(path, year_given)
    elif head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError("这是旧版 Excel（.xls）文件，暂不支持。" + SAVE_AS_HINT)
    elif b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ImportFileError("所选文件不是表格文件（.xlsx 或 .csv）。" + SAVE_AS_HINT)
    else:
        opener = _open_csv(path, head, year_given)
    with opener as table:
        yield table
