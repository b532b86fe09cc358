"""The registry import (product.md section 8): the previous year's passes from .xlsx or .csv.

How it stays correct and fast on 100,000 rows:
- Pass 1 reads the file once, validates every row and spills the parsed rows to a temporary file
  in chunks; it also learns the final values of every staff number ("the later row wins") and the
  last row using each key. Those per-file facts, and the pass numbers and plates already accepted,
  live in a scratch SQLite file (import_scratch.py), read and written once per chunk: memory does
  not grow with the file (issue 13).
- Pass 2 applies the rows chunk by chunk, EACH CHUNK IN ITS OWN SHORT TRANSACTION (decision 0021), so
  codes, payments and staff pages keep writing while a 100,000-row file goes in (on SQLite one big
  transaction held the only write lock for the whole import). Per chunk, three queries fetch the
  existing staff, vehicles and passes not seen yet, new rows are inserted in bulk and every write is
  audited. What earlier chunks did stays in memory while a later row still uses one of its keys
  (the records are kept), and that in-memory view is authoritative for every record already seen.
- The dry run is the same pass 2 WITHOUT writing (no transaction, no lock): the same code makes the
  same decisions from the same view, so the preview equals the import.
- Nothing half-written: before each chunk commits, its undo (rows created, old values of rows
  changed) is appended to a journal file on the private store and fsynced. If the import fails, the
  journal is undone in reverse; if the process dies, the next import undoes it first
  (`recover_unfinished_imports`). One import at a time (a PostgreSQL advisory lock, or a
  file lock on SQLite), held across all chunks.
- A row that cannot be imported is rejected with its spreadsheet row number and field; the rest go
  on. A file that cannot be read at all raises ImportFileError before anything is written.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import gc
import hashlib
import logging
import os
import pickle
import queue
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Any, NamedTuple

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from campuspass.core import plate_kinds
from campuspass.core.audit import actor_label_for, json_value, log_action
from campuspass.core.bulk import (
    bulk_cursor,
    copy_rows,
    insert_constant,
    insert_converter,
    insert_many,
    insert_returning_keys,
    reserve_keys_of,
    update_many,
)
from campuspass.core.errors import FieldError
from campuspass.core.models import LogEntry

from . import fields
from .import_scratch import ImportScratch, pass_key, plate_key
from .models import Pass, Staff, Vehicle
from .reading import ImportFileError, Table, open_table

__all__ = ["ImportFileError", "ImportReport", "import_passes", "recover_unfinished_imports"]

logger = logging.getLogger(__name__)

CHUNK_SIZE = 1000
WRITER_SWITCH_INTERVAL = 0.0005  # seconds, while a writer thread runs (see _ChunkWriter)
CHUNK_PAUSE_SECONDS = 0.05  # SQLite only: between two chunks, for other writers (decision 0021)
MOVED_LISTED = 2000  # moved passes listed one by one in the preview (all are counted)
Progress = Callable[[int, int | None], None]


@dataclass
class ImportReport:
    file: str
    dry_run: bool
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    # Passes on file that this import gives to another person or another vehicle (issue 14): the
    # preview lists them and the import needs an explicit confirmation of them.
    moved: list[dict[str, Any]] = field(default_factory=list)
    moved_total: int = 0
    total_rows: int = 0

    def reject(self, row: int, problems: list[tuple[str, str]]) -> None:
        self.rejected.append(
            {
                "row": row,
                "field": problems[0][0],
                "fields": [name for name, _ in problems],
                # Messages end with "。"; joined with "；" only the last one keeps it.
                "reason": "；".join(f"{name}：{reason.rstrip('。')}" for name, reason in problems)
                + ("。" if problems[-1][1].endswith("。") else ""),
            }
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "dry_run": self.dry_run,
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "warnings": self.warnings,
            "moved": self.moved,
            "moved_total": self.moved_total,
            "total_rows": self.total_rows,
        }

    def move(self, **values: Any) -> None:
        self.moved_total += 1
        if len(self.moved) < MOVED_LISTED:
            self.moved.append(values)


class ParsedRow(NamedTuple):
    row: int
    staff_no: str
    staff: dict[str, Any]  # name, mobile, status[, department]
    plate: str
    vehicle: dict[str, Any]  # vehicle_type, brand_model, color (only the columns the file has)
    year: int
    number: str
    pass_values: dict[str, Any]  # review_status[, valid_from, valid_to]


# --- pass 1: parsing -------------------------------------------------------------------------
#
# Every cell goes through its field's rule (registry/fields.py), the same rule the services and the
# forms use: what the import accepts the desk accepts, with the same message when it does not.


VEHICLE_COLUMNS = (("车辆类型", "vehicle_type"), ("品牌型号", "brand_model"), ("车身颜色", "color"))
KIND_COLUMNS = (("车牌颜色", "plate_colour"), ("号牌种类", "plate_type"))
VALIDITY_COLUMNS = (("有效期起", "valid_from"), ("有效期止", "valid_to"))
# Columns with few distinct values (a department, a colour, a date…): each distinct text is converted
# once per file and the result reused. The rules are pure functions of the cell, so a remembered
# result is exactly what converting again would give; failures are not remembered (they raise again).
MEMO_COLUMNS = frozenset(
    {"部门", "人员状态", "车辆类型", "品牌型号", "车身颜色", "车牌颜色", "号牌种类", "年度", "审核状态"}
    | {"有效期起", "有效期止"}
)
MEMO_LIMIT = 10_000  # distinct values remembered per column, to bound memory on unusual files
# The file's columns, in the order a row's problems are listed.
PARSED_COLUMNS = (
    "工号", "姓名", "部门", "手机号", "人员状态", "车牌号", "车辆类型", "品牌型号", "车身颜色",
    "车牌颜色", "号牌种类", "通行证编号", "年度", "审核状态", "有效期起", "有效期止",
)  # fmt: skip


def parse_date(value: object) -> dt.date | None:
    """A date cell (the 有效期 rule): an Excel date or serial number, or text such as 2019-07-01,
    2019/7/1, 2019.07.01, 2019年7月1日 or 20190701. Raises FieldError."""
    return fields.RULES["valid_from"].clean(value)


class RowParser:
    """Validates one row at a time. The rules are looked up once per file, not per row."""

    def __init__(self, table: Table, year: int | None):
        self.year = year
        year_rule = fields.RULE_BY_LABEL["年度"]

        def year_cell(value: object) -> int | None:
            # An empty cell takes the year given to the import (if any; else the rule refuses it).
            if year is not None and year_rule.is_empty(value):
                return year
            return year_rule.clean(value)

        converters = {name: fields.RULE_BY_LABEL[name].clean for name in PARSED_COLUMNS}
        converters["年度"] = year_cell
        self.fields = [
            (name, table.columns[name], converters[name], {} if name in MEMO_COLUMNS else None)
            for name in PARSED_COLUMNS
            if name in table.columns
        ]
        self.needs_year = "年度" not in table.columns

    def parse(self, row: int, values: tuple) -> ParsedRow | list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        got: dict[str, Any] = {}  # a column the file lacks stays out of `got`: never overwrite it
        count = len(values)
        for name, index, convert, memo in self.fields:
            value = values[index] if index < count else None
            if memo is not None and value.__class__ is str:
                try:
                    got[name] = memo[value]
                    continue
                except KeyError:
                    pass
            try:
                got[name] = result = convert(value)
            except FieldError as exc:
                problems.append((name, exc.message))
                got[name] = None
            else:
                if memo is not None and value.__class__ is str and len(memo) < MEMO_LIMIT:
                    memo[value] = result

        year = got.get("年度")
        if self.needs_year:
            year = self.year
            if year is None:
                problems.append(("年度", "年度不能为空，请填写。"))
        elif year is not None and self.year is not None and year != self.year:
            problems.append(
                ("年度", f"年度 {year} 与导入时指定的年度 {self.year} 不一致，请核对后重新导入。")
            )
        valid_from, valid_to = got.get("有效期起"), got.get("有效期止")
        try:
            fields.check_validity(valid_from, valid_to)
        except FieldError as exc:
            problems.append((exc.label, exc.message))
        kind = {key: got[name] for name, key in KIND_COLUMNS if got.get(name)}
        if kind and got.get("车牌号"):
            plate = got["车牌号"]
            colour, plate_type = plate_kinds.infer_kind(plate)
            colour, plate_type = kind.get("plate_colour", colour), kind.get("plate_type", plate_type)
            given = {name for name, key in KIND_COLUMNS if key in kind}
            problems.extend(
                (exc.label, exc.message)
                for exc in fields.check_plate_kind(plate, colour, plate_type)
                if exc.label in given
            )
        if problems:
            return problems

        staff = {"name": got["姓名"], "mobile": got["手机号"], "status": got["人员状态"]}
        if "部门" in got:
            staff["department"] = got["部门"]
        vehicle = {key: got[name] for name, key in VEHICLE_COLUMNS if name in got}
        vehicle.update(kind)
        pass_values = {"review_status": got["审核状态"]}
        pass_values.update((key, got[name]) for name, key in VALIDITY_COLUMNS if name in got)
        return ParsedRow(
            row, got["工号"], staff, got["车牌号"], vehicle, year, got["通行证编号"], pass_values
        )


# --- pass 2: applying ------------------------------------------------------------------------
#
# Rows are handled as plain records, not model instances: building and saving 300,000 model
# instances took most of the import's time. Existing rows are loaded with .values(); new rows are
# inserted with multi-row INSERT … RETURNING; every write gets its audit row in the same chunk.


class Record:
    """One staff member, vehicle or pass as the import sees it (pk is None until inserted)."""

    def __init__(self, pk: int | None = None, **values: Any):
        values["pk"] = pk
        self.__dict__ = values

    @classmethod
    def of(cls, values: dict[str, Any]) -> Record:
        """A record whose attributes are `values` (which must include "pk"); `values` becomes the
        record's own dict, so pass a new one. Cheaper than keyword arguments, for the rows of a file."""
        record = cls.__new__(cls)
        record.__dict__ = values
        return record

    def __str__(self) -> str:  # the audit log's object_repr, as the models' __str__ would give
        if "number" in self.__dict__:
            return f"{self.year} {self.number}"
        if "plate" in self.__dict__:
            return self.plate
        return f"{self.name}（{self.staff_no}）"


@dataclass
class Pending:
    """What one chunk will write."""

    new_staff: list[Record] = field(default_factory=list)
    new_vehicles: list[Record] = field(default_factory=list)
    new_passes: list[Record] = field(default_factory=list)
    dirty_staff: dict[int, Record] = field(default_factory=dict)
    dirty_vehicles: dict[int, Record] = field(default_factory=dict)
    dirty_passes: list[Record] = field(default_factory=list)  # in row order: see _flush
    # (model, record, action, data, plate, staff_no) — written once the records have keys
    audit: list[tuple[type, Record, str, dict, str, str]] = field(default_factory=list)


STAFF_FIELDS = ["name", "department", "mobile", "status"]
VEHICLE_FIELDS = ["vehicle_type", "brand_model", "color", "plate_colour", "plate_type"]
PASS_FIELDS = ["review_status", "valid_from", "valid_to"]


def _changes(obj: Record, values: dict[str, Any]) -> dict[str, list[Any]]:
    return {
        name: [json_value(getattr(obj, name)), json_value(value)]
        for name, value in values.items()
        if getattr(obj, name) != value
    }


def _same(a: Record, b: Record) -> bool:
    return a is b or (a.pk is not None and a.pk == b.pk)


def _select(sql: str, keys: Iterable[Any]) -> list[tuple]:
    """Rows for `sql` with its `IN ({})` filled with one placeholder per key; the key is unique (with
    the rest of the WHERE clause): at most one row per key. Plain SQL because the ORM's per-parameter
    and per-value work was most of the time of a re-import (measured 3x).

    On PostgreSQL each key is looked up on its own: the keys as one array, each joined LATERALly to
    the query for it, `LIMIT 1`. As `col = ANY(1,000 keys)` the planner took the chunk to match 1,000
    rows and, while a table had up to a few hundred thousand rows, priced reading all of it (parallel
    sequential or whole-index scans, hash joins) below 1,000 index probes; in a growing import the
    keys are mostly new and match nothing, so each lookup read the whole of the growing tables, 5 →
    60 ms a lookup (seen with auto_explain) — 53 s of a 160 s import of 1,000,000 rows. One key at a
    time (a subquery with LIMIT is not flattened into a join) the plan is an index probe per key, a
    few microseconds each, whatever the statistics say."""
    keys = list(keys)
    if not keys:
        return []
    with bulk_cursor() as cursor:
        if connection.vendor == "postgresql":
            array, parameter = _key_array(keys)
            cursor.execute(
                f"SELECT found.* FROM unnest({array}) AS k(key)"  # noqa: S608 - our own SQL
                f" CROSS JOIN LATERAL ({sql.replace('IN ({})', '= k.key')} LIMIT 1) AS found",
                [parameter],
            )
        else:
            cursor.execute(sql.format(", ".join(["%s"] * len(keys))), keys)
        return cursor.fetchall()


KEY_SEPARATOR = "\x1f"  # a control character: cell_text removes them, so no key of a row holds one


def _key_array(keys: list) -> tuple[str, Any]:
    """PostgreSQL: the chunk's keys as one array expression and its one parameter. Integers and keys
    are sent as ONE text parameter that the server splits (`string_to_array`): as a list parameter,
    psycopg's array dumper quoted the 1,000 keys one by one in Python, about 1.5 ms of the import's
    CPU per lookup (four per chunk), where joining them is a few microseconds. Text that cannot be
    split back unchanged (a key holding the separator, or an empty key, which splitting would lose)
    goes as a list parameter, as before."""
    if isinstance(keys[0], int):
        return "string_to_array(%s, ',')::bigint[]", ",".join(map(str, keys))
    text = KEY_SEPARATOR.join(keys)
    if text.count(KEY_SEPARATOR) != len(keys) - 1 or not all(keys):
        return "%s::text[]", keys
    return "string_to_array(%s, chr(31))", text


def _as_date(value: Any) -> dt.date | None:
    """SQLite hands dates back as text; PostgreSQL as dates."""
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


class Importer:
    def __init__(
        self,
        *,
        file_name: str,
        acting_user: Any,
        report: ImportReport,
        scratch: ImportScratch,
    ):
        self.file_name = file_name
        # The per-file facts (final staff values, the last row using each key, the first accepted row
        # of each pass number and plate) live in a scratch file, not in memory (import_scratch.py):
        # each chunk loads only its own keys' entries into the three dicts below.
        self.scratch = scratch
        self.report = report
        self.staff_final: dict[str, tuple] = {}  # staff_no -> (row, values…) of its last valid row
        self.seen_numbers: dict[tuple[int, str], int] = {}
        self.seen_plates: dict[tuple[int, str], int] = {}
        # This chunk's accepted rows: ((year, number), (year, plate), row); those of them that another
        # row repeats (tracked_*) are written to the scratch file's first-accepted table.
        self.accepted: list[tuple[tuple[int, str], tuple[int, str], int]] = []
        self.tracked_numbers: set[tuple[int, str]] = set()
        self.tracked_plates: set[tuple[int, str]] = set()
        self.uses: dict[str, tuple[int, bool]] = {}  # the chunk's plate and pass keys: (last row, repeated)
        self.now = timezone.now()
        self.actor_id = acting_user.pk if getattr(acting_user, "is_authenticated", False) else None
        self.actor_label = actor_label_for(acting_user)
        self.reason = f"导入文件 {file_name}"
        # Every record seen so far, as this import left it: authoritative over the database for
        # later chunks (in a dry run nothing is written, so the database would not know).
        self.staff_by_no: dict[str, Record] = {}
        self.vehicles: dict[str, Record] = {}
        self.pass_by_number: dict[tuple[int, str], Record] = {}
        self.pass_by_plate: dict[tuple[int, str], Record] = {}
        self.loaded: dict[int, Record] = {}
        # What the current chunk changes, in order: ("c", model, record) or ("u", model, record, old).
        self.undo: list[tuple] = []
        # PostgreSQL: the current chunk's writes, prepared (keys and rows) for the writer.
        self.writes: list[_Write] = []

    def apply_chunk(self, rows: list[ParsedRow], *, write: bool = True) -> None:
        scratch = self.scratch
        # The staff's final values (their row is also the last row using the staff number), and for
        # the chunk's plates and pass numbers the last row using each and whether more than one row
        # does: two statements for the chunk.
        self.staff_final = scratch.staff_finals({r.staff_no for r in rows})
        row_keys = [_row_keys(r) for r in rows]
        self.uses = uses = scratch.last_uses({key for keys in row_keys for key in keys})
        # Only a pass number or plate that more than one row uses can repeat an earlier accepted
        # row: only those are looked up in (and later written to) the first-accepted table.
        self.tracked_numbers = {
            (r.year, r.number) for r, (_, number) in zip(rows, row_keys, strict=True) if uses[number][1]
        }
        self.tracked_plates = {
            (r.year, r.plate) for r, (plate, _) in zip(rows, row_keys, strict=True) if uses[plate][1]
        }
        first = scratch.first_accepted(
            [_number_key(*key) for key in self.tracked_numbers]
            + [_plate_key(*key) for key in self.tracked_plates]
        )
        self.seen_numbers = {
            key: first[text] for key in self.tracked_numbers if (text := _number_key(*key)) in first
        }
        self.seen_plates = {
            key: first[text] for key in self.tracked_plates if (text := _plate_key(*key)) in first
        }
        self.accepted = []
        staff_by_no = self.staff_by_no
        for pk, staff_no, *values in _select(
            "SELECT s.id, s.staff_no, s.name, s.department, s.mobile, s.status FROM registry_staff s"
            " WHERE s.staff_no IN ({})",
            {r.staff_no for r in rows} - staff_by_no.keys(),
        ):
            staff_by_no[staff_no] = Record(
                pk=pk, staff_no=staff_no, **dict(zip(STAFF_FIELDS, values, strict=True))
            )
        vehicles = self.vehicles
        for pk, plate, vehicle_type, brand_model, color, colour, plate_type, owner_id, owner_no in _select(
            "SELECT v.id, v.plate, v.vehicle_type, v.brand_model, v.color, v.plate_colour, v.plate_type,"
            " v.owner_id, s.staff_no"
            " FROM registry_vehicle v JOIN registry_staff s ON s.id = v.owner_id WHERE v.plate IN ({})",
            {r.plate for r in rows} - vehicles.keys(),
        ):
            owner = Record(pk=owner_id, staff_no=owner_no)
            vehicles[plate] = Record(
                pk=pk,
                plate=plate,
                vehicle_type=vehicle_type,
                brand_model=brand_model,
                color=color,
                plate_colour=colour,
                plate_type=plate_type,
                owner=owner,
            )
        pass_by_number, pass_by_plate, loaded = self.pass_by_number, self.pass_by_plate, self.loaded
        chunk_plates = {r.plate for r in rows}
        pass_query = (
            "SELECT p.id, p.year, p.number, p.review_status, p.valid_from, p.valid_to,"  # noqa: S105
            " p.vehicle_id, v.plate, p.holder_id, s.staff_no, s.name FROM registry_pass p"
            " JOIN registry_vehicle v ON v.id = p.vehicle_id JOIN registry_staff s ON s.id = p.holder_id"
        )
        # Per year and per key, without OR: each is then answered from a unique index.
        for year in {r.year for r in rows}:
            numbers = {r.number for r in rows if r.year == year and (year, r.number) not in pass_by_number}
            vehicle_ids = [vehicles[p].pk for p in chunk_plates if p in vehicles and vehicles[p].pk]
            found = _select(pass_query + f" WHERE p.year = {int(year)} AND p.number IN ({{}})", numbers)
            if vehicle_ids:
                found += _select(
                    pass_query + f" WHERE p.year = {int(year)} AND p.vehicle_id IN ({{}})", vehicle_ids
                )
            for (
                pk,
                year_,
                number,
                review_status,
                valid_from,
                valid_to,
                vehicle_id,
                plate,
                holder_id,
                holder_no,
                holder_name,
            ) in found:
                if pk in loaded:
                    continue
                vehicle = Record(pk=vehicle_id, plate=plate)
                permit = loaded[pk] = Record(
                    pk=pk,
                    year=year_,
                    number=number,
                    review_status=review_status,
                    valid_from=_as_date(valid_from),
                    valid_to=_as_date(valid_to),
                    vehicle=vehicle,
                    holder=Record(pk=holder_id, staff_no=holder_no, name=holder_name),
                    loaded_plate=plate,
                )
                pass_by_number.setdefault((year_, number), permit)
                pass_by_plate.setdefault((year_, plate), permit)
        pending = Pending()
        self.undo = []
        for row in rows:
            self._apply_row(row, staff_by_no, vehicles, pass_by_number, pass_by_plate, pending)
        self.writes = []
        if write:
            self.writes = self._writes(pending)
            if connection.vendor == "postgresql":
                # Keys now, rows written by `_apply_all`'s writer (while the next chunk is decided).
                self.writes = _prepared(self.writes)
            else:
                self._flush(self.writes)  # in the chunk's transaction, opened by `_apply_all`
                self.writes = []
            for permit in pending.new_passes:
                self.loaded[permit.pk] = permit
        tracked_numbers, tracked_plates = self.tracked_numbers, self.tracked_plates
        scratch.store_first_accepted(
            [(_number_key(*number), row) for number, _, row in self.accepted if number in tracked_numbers]
            + [(_plate_key(*plate), row) for _, plate, row in self.accepted if plate in tracked_plates]
        )
        if rows:
            self._forget(rows, row_keys)

    def _forget(self, rows: list[ParsedRow], row_keys: list[tuple[str, str]]) -> None:
        """Drop the records no later row can reach. A later chunk finds a record only by a key of one
        of its rows: staff number, plate (vehicles, and passes by vehicle) or pass number. A pass is
        kept while its number, its plate now or its plate when loaded is still to come, so a later
        chunk never reads from the database a pass this import has moved (in a dry run the database
        would not know). Whether a key is still to come: for the chunk's own keys, from what
        apply_chunk read (`staff_final`, `uses`); any other key of a pass (a plate it was loaded
        with) is asked of the scratch file, in one query."""
        last_row = rows[-1].row
        pass_by_number, pass_by_plate = self.pass_by_number, self.pass_by_plate
        permits: dict[int, Record] = {}
        for row in rows:
            for permit in (
                pass_by_number.get((row.year, row.number)),
                pass_by_plate.get((row.year, row.plate)),
            ):
                if permit is not None:
                    permits[id(permit)] = permit
        uses = self.uses
        permit_keys = [(permit, _pass_keys(permit)) for permit in permits.values()]
        unknown = {key for _, keys in permit_keys for key in keys if key not in uses}
        ahead = self.scratch.used_after(unknown, last_row) if unknown else set()
        ahead.update(key for key, (row, _) in uses.items() if row > last_row)
        staff_final, staff_by_no, vehicles = self.staff_final, self.staff_by_no, self.vehicles
        for row, (plate, _) in zip(rows, row_keys, strict=True):
            if staff_final[row.staff_no][0] <= last_row:
                staff_by_no.pop(row.staff_no, None)
            if plate not in ahead:
                vehicles.pop(row.plate, None)
        for permit, keys in permit_keys:
            if ahead.isdisjoint(keys):
                self._forget_pass(permit)

    def _forget_pass(self, permit: Record) -> None:
        plate = permit.vehicle.plate
        loaded_plate = permit.__dict__.get("loaded_plate", plate)
        year = permit.year
        if self.pass_by_number.get((year, permit.number)) is permit:
            del self.pass_by_number[(year, permit.number)]
        for key in ((year, plate), (year, loaded_plate)):
            if self.pass_by_plate.get(key) is permit:
                del self.pass_by_plate[key]
        if permit.pk is not None:
            self.loaded.pop(permit.pk, None)

    def _reject_conflicts(
        self, row: ParsedRow, existing: Record | None, holder_of_plate: Record | None
    ) -> bool:
        number_key, plate_key = (row.year, row.number), (row.year, row.plate)
        if number_key in self.seen_numbers:
            reason = f"{row.number} 与第{self.seen_numbers[number_key]}行重复，本行未导入"
            self.report.reject(row.row, [("通行证编号", reason)])
            return True
        if plate_key in self.seen_plates:
            reason = f"{row.plate} 在第{self.seen_plates[plate_key]}行已有{row.year}年度通行证，本行未导入"
            self.report.reject(row.row, [("车牌号", reason)])
            return True
        if holder_of_plate is not None and holder_of_plate is not existing:
            reason = (
                f"{row.plate} 已有{row.year}年度通行证 {holder_of_plate.number}，与本行编号 {row.number} 不同；"
                "如需更换编号，请先在后台修改原通行证"
            )
            self.report.reject(row.row, [("车牌号", reason)])
            return True
        self.seen_numbers[number_key] = row.row
        self.seen_plates[plate_key] = row.row
        self.accepted.append((number_key, plate_key, row.row))
        return False

    def _apply_row(self, row, staff_by_no, vehicles, pass_by_number, pass_by_plate, pending: Pending) -> None:
        number_key, plate_key = (row.year, row.number), (row.year, row.plate)
        existing = pass_by_number.get(number_key)
        if self._reject_conflicts(row, existing, pass_by_plate.get(plate_key)):
            return

        file_name, row_number, plate, staff_no = self.file_name, row.row, row.plate, row.staff_no
        audit = pending.audit.append  # (model, record, action, data, plate, staff_no)
        undo = self.undo.append
        changed = False
        created: list[str] = []

        # Staff: the values of the file's last row for this staff number win (pass 1 found them).
        final = self.staff_final[staff_no]
        staff_values = _staff_values(final)
        staff = staff_by_no.get(staff_no)
        if staff is None:
            staff = Record.of({"pk": None, "staff_no": staff_no, "department": "", **staff_values})
            staff_by_no[staff_no] = staff
            pending.new_staff.append(staff)
            undo(("c", Staff, staff))
            created.append("staff")
        elif changes := _changes(staff, staff_values):
            undo(("u", Staff, staff, {f: getattr(staff, f) for f in STAFF_FIELDS}))
            staff.__dict__.update(staff_values)
            if staff.pk:
                pending.dirty_staff[staff.pk] = staff
            data = {"file": file_name, "row": row_number, "changes": changes}
            if final[0] != row_number:
                data["values_from_row"] = final[0]
            audit((Staff, staff, "registry.staff.updated", data, plate, staff_no))
            changed = True

        vehicle = vehicles.get(plate)
        if vehicle is None:
            vehicle = Record.of(
                {
                    "pk": None,
                    "plate": plate,
                    "owner": staff,
                    "vehicle_type": "",
                    "brand_model": "",
                    "color": "",
                    **dict(zip(("plate_colour", "plate_type"), plate_kinds.infer_kind(plate), strict=True)),
                    **row.vehicle,
                }
            )
            vehicles[plate] = vehicle
            pending.new_vehicles.append(vehicle)
            undo(("c", Vehicle, vehicle))
            created.append("vehicle")
        else:
            changes = _changes(vehicle, row.vehicle)
            if not _same(vehicle.owner, staff):
                changes["owner"] = [vehicle.owner.staff_no, staff.staff_no]
            if changes:
                undo(
                    (
                        "u",
                        Vehicle,
                        vehicle,
                        {**{f: getattr(vehicle, f) for f in VEHICLE_FIELDS}, "owner": vehicle.owner},
                    )
                )
                vehicle.__dict__.update(row.vehicle)
                vehicle.owner = staff
                if vehicle.pk:
                    pending.dirty_vehicles[vehicle.pk] = vehicle
                data = {"file": file_name, "row": row_number, "changes": changes}
                audit((Vehicle, vehicle, "registry.vehicle.updated", data, plate, staff_no))
                changed = True

        if existing is None:
            permit = Record.of(
                {
                    "pk": None,
                    "year": row.year,
                    "number": row.number,
                    "vehicle": vehicle,
                    "holder": staff,
                    "valid_from": None,
                    "valid_to": None,
                    **row.pass_values,
                }
            )
            pending.new_passes.append(permit)
            undo(("c", Pass, permit))
            pass_by_number[number_key] = pass_by_plate[plate_key] = permit
            created.append("pass")
            data = {"file": file_name, "row": row_number, "created": created}
            audit((Pass, permit, "registry.pass.imported", data, plate, staff_no))
            self.report.imported += 1
            return

        changes = _changes(existing, row.pass_values)
        if not _same(existing.vehicle, vehicle) or not _same(existing.holder, staff):
            self.report.move(
                row=row_number,
                year=row.year,
                number=row.number,
                from_plate=existing.vehicle.plate,
                to_plate=vehicle.plate,
                from_staff_no=existing.holder.staff_no,
                from_name=getattr(existing.holder, "name", ""),
                to_staff_no=staff.staff_no,
                to_name=getattr(staff, "name", ""),
            )
        if not _same(existing.vehicle, vehicle):
            changes["vehicle"] = [existing.vehicle.plate, vehicle.plate]
            pass_by_plate.pop((existing.year, existing.vehicle.plate), None)
            pass_by_plate[plate_key] = existing
        if not _same(existing.holder, staff):
            changes["holder"] = [existing.holder.staff_no, staff.staff_no]
        if changes:
            old = {f: getattr(existing, f) for f in PASS_FIELDS}
            undo(("u", Pass, existing, {**old, "vehicle": existing.vehicle, "holder": existing.holder}))
            existing.__dict__.update(row.pass_values)
            existing.vehicle, existing.holder = vehicle, staff
            pending.dirty_passes.append(existing)
            data = {"file": file_name, "row": row_number, "changes": changes}
            audit((Pass, existing, "registry.pass.updated", data, plate, staff_no))
            changed = True
        if created:
            # e.g. a pass on file moved to a vehicle that is new: record what was created with it
            data = {"file": file_name, "row": row_number, "created": created}
            audit((Pass, existing, "registry.pass.imported", data, plate, staff_no))
        if changed or created:
            self.report.updated += 1
        else:
            self.report.unchanged += 1

    def _writes(self, pending: Pending) -> list[_Write]:
        """What the chunk writes, in order: staff, vehicles, passes, then the audit rows. Each row is
        built from its record only once the records before it have keys (`_Write.rows`)."""
        now = connection.ops.adapt_datetimefield_value(self.now)  # for the UPDATEs
        day = connection.ops.adapt_datefield_value
        # For the inserts (COPY on PostgreSQL): the timestamp prepared once, dates and audit data
        # as the text COPY sends (core/bulk.py).
        created = insert_constant(Staff, "created_at", self.now)
        new_day = insert_converter(Pass, "valid_from")
        content_types = ContentType.objects.get_for_models(Staff, Vehicle, Pass)
        audit_data = insert_converter(LogEntry, "data")
        actor_id, actor_label, reason = self.actor_id, self.actor_label, self.reason
        # The columns' values in the order of their field lists (the same for an INSERT and an UPDATE).
        staff_values, vehicle_values = attrgetter(*STAFF_FIELDS), attrgetter(*VEHICLE_FIELDS)
        return [
            _Write(
                "insert",
                Staff,
                ["staff_no", *STAFF_FIELDS, "created_at", "updated_at"],
                pending.new_staff,
                lambda s: (s.staff_no, *staff_values(s), created, created),
            ),
            _Write(
                "update",
                Staff,
                [*STAFF_FIELDS, "updated_at"],
                list(pending.dirty_staff.values()),
                lambda s: (*staff_values(s), now, s.pk),
            ),
            _Write(
                "insert",
                Vehicle,
                ["plate", *VEHICLE_FIELDS, "owner", "created_at", "updated_at"],
                pending.new_vehicles,
                lambda v: (v.plate, *vehicle_values(v), v.owner.pk, created, created),
            ),
            _Write(
                "update",
                Vehicle,
                [*VEHICLE_FIELDS, "owner", "updated_at"],
                list(pending.dirty_vehicles.values()),
                lambda v: (*vehicle_values(v), v.owner.pk, now, v.pk),
            ),
            # Moved passes are updated one statement per row, in row order: each move was checked
            # against the state left by the rows before it, so that order never breaks "one pass per
            # vehicle and year" midway (a single multi-row UPDATE could, on PostgreSQL).
            _Write(
                "update",
                Pass,
                ["vehicle", "holder", *PASS_FIELDS, "updated_at"],
                pending.dirty_passes,
                lambda p: (
                    p.vehicle.pk,
                    p.holder.pk,
                    p.review_status,
                    day(p.valid_from),
                    day(p.valid_to),
                    now,
                    p.pk,
                ),
            ),
            _Write(
                "insert",
                Pass,
                ["year", "number", "vehicle", "holder", *PASS_FIELDS, "source", "created_at", "updated_at"],
                pending.new_passes,
                lambda p: (
                    p.year,
                    p.number,
                    p.vehicle.pk,
                    p.holder.pk,
                    p.review_status,
                    new_day(p.valid_from),
                    new_day(p.valid_to),
                    Pass.Source.IMPORT.value,
                    created,
                    created,
                ),
            ),
            _Write(
                "append",
                LogEntry,
                [
                    "created_at",
                    "actor",
                    "actor_label",
                    "action",
                    "content_type",
                    "object_id",
                    "object_repr",
                    "plate",
                    "staff_no",
                    "reason",
                    "data",
                ],  # fmt: skip
                pending.audit,
                lambda entry: (
                    created,
                    actor_id,
                    actor_label,
                    entry[2],
                    content_types[entry[0]].pk,
                    str(entry[1].pk),
                    str(entry[1])[:200],
                    entry[4],
                    entry[5],
                    reason,
                    audit_data(entry[3]),
                ),
            ),
        ]

    def _flush(self, writes: list[_Write]) -> None:
        """Write the chunk: rows prepared by `_prepared` (PostgreSQL) with COPY and per-row UPDATEs;
        elsewhere each row built now, new rows inserted with their keys returned."""
        for item in writes:
            if item.rows is not None:
                if item.kind == "update":
                    update_many(item.model, item.fields, item.rows)
                else:
                    copy_rows(
                        item.model, ["pk", *item.fields] if item.kind == "insert" else item.fields, item.rows
                    )
            elif item.kind == "insert":
                insert_returning_keys(item.model, item.fields, item.records, item.row)
            elif item.kind == "update":
                update_many(item.model, item.fields, map(item.row, item.records))
            else:
                insert_many(item.model, item.fields, map(item.row, item.records))


class _Write(NamedTuple):
    """One statement's worth of a chunk's writes: new rows with keys ("insert"), changed rows
    ("update", the key last), or audit rows ("append", keys left to the database). `rows` is None
    until `_prepared` builds them."""

    kind: str
    model: type
    fields: list[str]
    records: list[Any]
    row: Callable[[Any], tuple]
    rows: list[tuple] | None = None


def _prepared(writes: list[_Write]) -> list[_Write]:
    """PostgreSQL: the chunk's new rows given keys from their tables' sequences (one statement for
    the three tables), then every row built, here and now. What a writer thread then sends is plain
    tuples: the records may change while it writes (a later chunk updating a staff member this one
    created), the rows it writes cannot."""
    keys = reserve_keys_of({item.model: len(item.records) for item in writes if item.kind == "insert"})
    for item in writes:
        if item.kind == "insert":
            for record, key in zip(item.records, keys[item.model], strict=True):
                record.pk = key
    prepared = []
    for item in writes:
        row = item.row
        if item.kind == "insert":
            rows = [(record.pk, *row(record)) for record in item.records]
        else:
            rows = [row(record) for record in item.records]
        prepared.append(item._replace(records=[], rows=rows))
    return prepared


def _read_and_spill(
    table: Table,
    year: int | None,
    report: ImportReport,
    spill,
    progress: Progress | None,
    total: int | None,
    scratch: ImportScratch,
) -> int:
    """Pass 1. Spills the valid rows to `spill` in chunks and stores in `scratch`, chunk by chunk, the
    final staff values per staff number (as `_final_staff` tuples: the row they came from, then the
    values) and the last row using each key. Returns the number of valid rows. Memory holds one
    chunk, whatever the file's size."""
    parser = RowParser(table, year)
    chunk: list[ParsedRow] = []
    valid = 0
    for count, (row_number, values) in enumerate(table.rows, start=1):
        report.total_rows += 1
        parsed = parser.parse(row_number, values)
        if isinstance(parsed, list):
            report.reject(row_number, parsed)
        else:
            chunk.append(parsed)
            valid += 1
            if len(chunk) >= CHUNK_SIZE:
                _settle_chunk(chunk, report, spill, scratch)
                chunk = []
        if progress and count % CHUNK_SIZE == 0:
            progress(count, total)
    if chunk:
        _settle_chunk(chunk, report, spill, scratch)
    return valid


def _settle_chunk(chunk: list[ParsedRow], report: ImportReport, spill, scratch: ImportScratch) -> None:
    """Pass 1 for one chunk of valid rows, in row order: warn of each row whose staff values differ
    from the previous row with its staff number, remember the later values and the last row using
    each key, and spill the chunk."""
    finals = scratch.staff_finals({row.staff_no for row in chunk})
    changed: dict[str, tuple] = {}
    last: dict[str, int] = {}
    repeated: set[str] = set()
    for parsed in chunk:
        row_number = parsed.row
        final = _final_staff(row_number, parsed.staff)
        previous = finals.get(parsed.staff_no)
        if previous is not None and previous[1:] != final[1:]:
            differing = [
                label
                for index, label in enumerate(("姓名", "手机号", "人员状态", "部门"), start=1)
                if previous[index] != final[index]
            ]
            report.warnings.append(
                {
                    "row": row_number,
                    "reason": f"工号 {parsed.staff_no} 的{'、'.join(differing)}与第{previous[0]}行不同，以本行（较后的一行）为准",
                }
            )
        finals[parsed.staff_no] = changed[parsed.staff_no] = final
        for key in _row_keys(parsed):
            if key in last:
                repeated.add(key)
            last[key] = row_number
    scratch.store_staff_finals(changed)  # the staff number's last row is its final values' row
    scratch.store_last_use(last, repeated)
    pickle.dump(chunk, spill, protocol=pickle.HIGHEST_PROTOCOL)


def _final_staff(row_number: int, staff: dict[str, Any]) -> tuple:
    """(row, name, mobile, status, department); department None when the file has no such column."""
    return (row_number, staff["name"], staff["mobile"], staff["status"], staff.get("department"))


def _staff_values(final: tuple) -> dict[str, Any]:
    values = {"name": final[1], "mobile": final[2], "status": final[3]}
    if final[4] is not None:
        values["department"] = final[4]
    return values


def _row_keys(row: ParsedRow) -> tuple[str, str]:
    """The keys by which a later chunk can reach this row's vehicle and pass (see Importer._forget),
    as the scratch file's last-use table spells them: the plate, and the year with the pass number.
    (The staff number's last row is kept with its final values.)"""
    return (plate_key(row.plate), pass_key(row.year, row.number))


def _pass_keys(permit: Record) -> tuple[str, str, str]:
    """The keys by which a later chunk can reach a pass: its number, its plate now, its plate when
    it was loaded."""
    plate = permit.vehicle.plate
    loaded_plate = permit.__dict__.get("loaded_plate", plate)
    return (pass_key(permit.year, permit.number), plate_key(plate), plate_key(loaded_plate))


def _number_key(year: int, number: str) -> str:
    """A pass number of a year, as the scratch file's first-accepted table spells it."""
    return f"n{year}:{number}"


def _plate_key(year: int, plate: str) -> str:
    """A plate's pass of a year, likewise."""
    return f"y{year}:{plate}"


def _spilled_chunks(spill) -> Iterator[list[ParsedRow]]:
    spill.seek(0)
    while True:
        try:
            yield pickle.load(spill)  # noqa: S301 - our own temporary file, written just above
        except EOFError:
            return


# pg_advisory_lock takes a bigint: "CPIMPORT" as eight bytes.
IMPORT_LOCK_KEY = int.from_bytes(b"CPIMPORT", "big")
_MODELS = {model._meta.label: model for model in (Staff, Vehicle, Pass)}
_RELATIONS = {"owner": "owner_id", "vehicle": "vehicle_id", "holder": "holder_id"}


def journal_dir() -> Path:
    return Path(settings.PRIVATE_STORAGE_ROOT) / "import-journal"


class _ImportLock:
    """One import at a time, across hosts, for the whole import (not per chunk): a session-level
    advisory lock on PostgreSQL; on SQLite (one host) a file lock. A dead holder's lock is released
    by the database (its connection closed) or the kernel (its file closed)."""

    def __enter__(self):
        journal_dir().mkdir(parents=True, exist_ok=True)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s)", [IMPORT_LOCK_KEY])
            self.handle = None
        else:
            self.handle = open(journal_dir() / ".lock", "a+b")  # noqa: SIM115 - closed in __exit__
            fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if self.handle is None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [IMPORT_LOCK_KEY])
        else:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()


def _journal_entry(ops: list[tuple]) -> list[tuple]:
    """The chunk's undo with keys resolved (after its rows were inserted)."""
    entry = []
    for op in ops:
        if op[0] == "c":
            entry.append(("c", op[1]._meta.label, op[2].pk, None))
        else:
            old = {_RELATIONS.get(k, k): (v.pk if isinstance(v, Record) else v) for k, v in op[3].items()}
            entry.append(("u", op[1]._meta.label, op[2].pk, old))
    return entry


def _append_journal(journal, entry: list[tuple]) -> None:
    pickle.dump(entry, journal, protocol=pickle.HIGHEST_PROTOCOL)
    journal.flush()
    os.fsync(journal.fileno())


def _read_journal(path: Path) -> list[tuple]:
    ops = []
    with open(path, "rb") as handle:
        while True:
            try:
                ops.extend(pickle.load(handle))  # noqa: S301 - our own journal on the private store
            except EOFError:
                break
            except pickle.UnpicklingError:  # a frame cut short by a crash: its chunk never committed
                break
    return ops


def _undo(path: Path, *, reason: str) -> int:
    """Undo a journal in reverse, a chunk's worth per short transaction; returns the operations
    undone. A created row that something else now refers to (an order made meanwhile) is left and
    logged: the import's own audit entries still describe it."""
    ops = _read_journal(path)
    kept = 0
    for end in range(len(ops), 0, -CHUNK_SIZE):
        with transaction.atomic():
            for kind, label, pk, old in reversed(ops[max(0, end - CHUNK_SIZE) : end]):
                model = _MODELS[label]
                if kind == "u":
                    model.objects.filter(pk=pk).update(**old)
                    continue
                try:
                    with transaction.atomic():
                        model.objects.filter(pk=pk).delete()
                except ProtectedError:
                    kept += 1
                    logger.warning("import undo kept %s %s: in use", label, pk)
    log_action(
        actor=None,
        action="registry.import.rolled_back",
        reason=reason,
        data={"journal": path.name, "operations": len(ops), "kept_in_use": kept},
    )
    path.unlink()
    return len(ops)


def recover_unfinished_imports() -> int:
    """Undo every import whose process died midway (call with the import lock held, or when no
    import can be running). Returns how many were undone."""
    undone = 0
    for path in sorted(journal_dir().glob("*.journal")):
        if LogEntry.objects.filter(action="registry.import.completed", data__journal=path.name).exists():
            path.unlink()  # it had completed; only the clean-up was missed
            continue
        logger.warning("undoing an unfinished import: %s", path.name)
        _undo(path, reason="上次导入未完成（进程中断），已撤销其已写入的部分")
        undone += 1
    return undone


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


ANALYZE_MIN_ROWS = 5000
# Per table: the lookups' columns whose statistics target is the default (see _PlannerStatistics).
_ANALYZED_COLUMNS = {
    Staff._meta.db_table: ("id",),
    Vehicle._meta.db_table: ("id", "owner_id"),
    Pass._meta.db_table: ("id", "year", "number", "vehicle_id", "holder_id"),
}


class _PlannerStatistics:
    """PostgreSQL: keeps the planner's idea of the registry tables' sizes within a factor of two of
    the truth while an import grows them (autovacuum analyses late, or is off), so a chunk's lookups
    are never planned for an empty table. An ANALYZE whenever this import has written as many rows
    as the planner knew of: a handful per import.

    Only of the columns the lookups filter and join on that keep the default statistics target
    (`_ANALYZED_COLUMNS`): ANALYZE samples 300 × the largest target among the columns it is given,
    and the substring-searched columns (staff number, name, plate) have 10,000 (decision 0038), so a
    whole-table ANALYZE reads every row and builds 10,000-entry histograms — at 1,000,000 rows
    seconds each time, for statistics the lookups do not use (their keys are unique: the planner
    takes them as such from the unique indexes, and needs only the table's size, which any ANALYZE
    updates). Those columns are left to autovacuum.

    The first ANALYZE comes once ANALYZE_MIN_ROWS rows are written, however large the registry: an
    import usually brings a year the statistics have never seen, and the planner, taking that year
    for a handful of rows, looked pass numbers up through the (year, vehicle) index filtering every
    row of the year written so far (100,000 rows beside the full-size registry: 4 s a lookup, the
    import stalled). One sample with the new year in it sends the lookups to the (year, number)
    index (0.3 ms)."""

    def __init__(self):
        self.active = connection.vendor == "postgresql"
        self.known = 0
        self.written = 0
        self.analysed = False
        if self.active:
            with bulk_cursor() as cursor:
                cursor.execute(
                    "SELECT COALESCE(MAX(reltuples), 0) FROM pg_class WHERE relname = %s",
                    [Pass._meta.db_table],
                )
                self.known = max(int(cursor.fetchone()[0]), 0)

    def after_chunk(self, rows: int) -> None:
        if not self.active:
            return
        self.written += rows
        if self.written >= max(ANALYZE_MIN_ROWS, 0 if not self.analysed else self.known):
            quote = connection.ops.quote_name
            with bulk_cursor() as cursor:
                tables = (
                    f"{quote(table)} ({', '.join(quote(column) for column in columns)})"
                    for table, columns in _ANALYZED_COLUMNS.items()
                )
                cursor.execute(f"ANALYZE {', '.join(tables)}")
            self.known += self.written
            self.written = 0
            self.analysed = True


@contextmanager
def _btree_lookups() -> Iterator[None]:
    """PostgreSQL: the import's lookups (`= ANY(array)` on staff numbers, plates, pass numbers) go
    through the unique B-tree indexes. Left to itself the planner chose the plate's trigram GIN index
    (search, decision of issue 13) for `plate = ANY(…)` even with fresh statistics: a GIN lookup also
    scans the index's pending list of recent inserts, and during an import each chunk's vehicle
    lookup took 1-4 s (wall clock 10-20× the import's CPU). GIN serves bitmap scans only, so turning
    bitmap scans off for the import's session leaves the B-trees; reset afterwards."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET enable_bitmapscan = off")
    try:
        yield
    finally:
        if connection.is_usable() and not connection.needs_rollback:
            with connection.cursor() as cursor:
                cursor.execute("RESET enable_bitmapscan")


GC_THRESHOLD0 = 50_000  # during an import: the youngest generation is collected every 50,000 allocations
_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, ...] = ()


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """The garbage collector took about an eighth of the import's CPU: every few hundred allocations
    it traversed the youngest objects, and every few chunks the whole heap (Django, the models, the
    modules: hundreds of thousands of objects that live as long as the process). For the import's
    duration the objects that exist before it are frozen (left out of every collection) and the
    youngest generation is collected less often. What the import allocates is still collected
    (reference counting frees almost all of it at once; the collector still runs, less often), so
    memory stays bounded. Restored afterwards; nested or concurrent imports share one freeze."""
    global _gc_users, _gc_saved
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(GC_THRESHOLD0, *_gc_saved[1:])
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_saved)
                gc.unfreeze()


class _ChunkWriter:
    """Writes the decided chunks, each in its own short transaction with its journal entry appended
    and fsynced before it commits (decision 0021).

    On PostgreSQL, outside any transaction of the caller's, in a thread of its own with its own
    connection: chunk N is written (COPY, the server's index and foreign-key work, COMMIT) while
    chunk N+1 is read, looked up and decided, instead of one after the other — the server's part was
    more than half of an import's time. Chunks are written in order; at most one waits in the queue
    (memory stays bounded). The decisions do not depend on what the writer has committed yet: what
    earlier chunks did stays in memory while a later row can still reach it, and that view is
    authoritative (the dry run decides the same way with nothing written); the keys of new rows are
    reserved before a chunk is handed over. A failure in the writer stops the import at the next
    hand-over (or at the end) with the writer's exception; a failure of the import stops the writer
    before the journal is undone.

    Inside a caller's transaction (tests) or on SQLite: each chunk written at once, on the caller's
    connection."""

    def __init__(self, importer: Importer, journal):
        self.importer = importer
        self.journal = journal
        self.statistics = _PlannerStatistics()
        self.prepared = connection.vendor == "postgresql"  # apply_chunk leaves the writing to us
        self.threaded = self.prepared and not connection.in_atomic_block
        self.error: BaseException | None = None
        self.stopping = False
        if self.threaded:
            # The writer thread mostly waits for the server, then needs the interpreter for a moment
            # (the next COPY rows, the journal, COMMIT): with the default switch interval (5 ms) it
            # waited up to that long for the deciding thread to let go, a dozen times a chunk. A
            # shorter interval for the import's duration (one import at a time: the import lock):
            # 300,000 rows 41 → 38 s, the same CPU.
            self.switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(WRITER_SWITCH_INTERVAL)
            self.queue: queue.Queue = queue.Queue(maxsize=1)
            self.thread = threading.Thread(target=self._run, name="campuspass-import-writer", daemon=True)
            self.thread.start()

    def apply(self, chunk: list[ParsedRow]) -> None:
        importer = self.importer
        if not self.prepared:
            with transaction.atomic():  # short: one chunk
                importer.apply_chunk(chunk)
                _append_journal(self.journal, _journal_entry(importer.undo))
            self.statistics.after_chunk(len(chunk))
            if connection.vendor == "sqlite":
                # SQLite's waiting writers poll (every few ms up to 100 ms): leave them a window to
                # take the lock before the next chunk does, or an OTP request can wait out the import.
                time.sleep(CHUNK_PAUSE_SECONDS)
            return
        importer.apply_chunk(chunk)
        item = (importer.writes, _journal_entry(importer.undo), len(chunk))
        if not self.threaded:
            self._write(*item)
            return
        self._put(item)

    def _write(self, writes: list[_Write], entry: list[tuple], rows: int) -> None:
        with transaction.atomic():
            self.importer._flush(writes)
            _append_journal(self.journal, entry)
        self.statistics.after_chunk(rows)

    def _put(self, item) -> None:
        while True:
            if self.error is not None or not self.thread.is_alive():
                self._raise()
            try:
                self.queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        try:
            while not self.stopping:
                item = self.queue.get()
                if item is None:
                    return
                self._write(*item)
        except BaseException as exc:  # handed to the importing thread
            self.error = exc
        finally:
            connection.close()  # this thread's own connection

    def _raise(self) -> None:
        self.thread.join()
        sys.setswitchinterval(self.switch_interval)
        if self.error is not None:
            raise self.error
        raise RuntimeError("导入写入线程意外停止")

    def finish(self) -> None:
        """Wait until every chunk is written; raise the writer's error, if any."""
        if not self.threaded:
            return
        self._put(None)
        self.thread.join()
        sys.setswitchinterval(self.switch_interval)
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        """The import failed: let the writer finish or roll back the chunk it is writing and write
        nothing more, so that the journal can be undone."""
        if not self.threaded:
            return
        self.stopping = True
        while True:
            try:
                self.queue.get_nowait()
            except queue.Empty:
                break
        self.queue.put_nowait(None)  # only this thread puts: the queue is empty now
        self.thread.join()
        sys.setswitchinterval(self.switch_interval)


def _apply_all(importer, spill, report, progress, total, *, write, journal=None) -> None:
    done = report.total_rows
    writer = _ChunkWriter(importer, journal) if write else None
    try:
        for chunk in _spilled_chunks(spill):
            if writer is not None:
                writer.apply(chunk)
            else:
                importer.apply_chunk(chunk, write=False)
            done += len(chunk)
            if progress:
                progress(done, total)
        if writer is not None:
            writer.finish()
    except BaseException:
        if writer is not None:
            writer.stop()
        raise


def _finish_report(report: ImportReport) -> None:
    report.rejected.sort(key=lambda item: item["row"])


def _import_in_chunks(importer, spill, report, progress, total, path, file_name, year, acting_user) -> None:
    journal_path = journal_dir() / f"{uuid.uuid4().hex}.journal"
    with open(journal_path, "wb") as journal:
        try:
            _apply_all(
                importer,
                spill,
                report,
                progress,
                total,
                write=True,
                journal=journal,
            )
            _finish_report(report)
            with transaction.atomic():
                log_action(
                    actor=acting_user,
                    action="registry.import.completed",
                    reason=f"导入文件 {file_name}",
                    data={
                        "file": file_name,
                        "sha256": file_sha256(path),
                        "year": year,
                        **{
                            k: v
                            for k, v in report.as_dict().items()
                            if k not in {"rejected", "warnings", "file"}
                        },
                        "rejected": len(report.rejected),
                        "journal": journal_path.name,
                    },
                )
        except BaseException:
            journal.close()
            logger.exception("import of %s failed; undoing what it wrote", file_name)
            _undo(journal_path, reason=f"导入文件 {file_name} 失败，已撤销其已写入的部分")
            raise
    # Complete (the entry above names the journal, so a crash right here is not mistaken for an
    # unfinished import by the recovery).
    journal_path.unlink(missing_ok=True)


def import_passes(
    *,
    path: Path | str,
    file_name: str | None = None,
    year: int | None = None,
    dry_run: bool = False,
    acting_user: Any = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a registry file. Raises ImportFileError when the file cannot be imported at all (and
    then writes nothing); rejected rows are listed in the report instead."""
    path = Path(path)
    file_name = file_name or path.name
    report = ImportReport(file=file_name, dry_run=dry_run)
    with (
        _fewer_collections(),
        tempfile.TemporaryFile(prefix="campuspass-import-") as spill,
        ImportScratch() as scratch,
    ):
        with open_table(path, year_given=year is not None) as table:
            estimate = table.total_rows
            read_total = 2 * estimate if estimate else None
            valid = _read_and_spill(table, year, report, spill, progress, read_total, scratch)
        total = report.total_rows + valid
        if progress:
            progress(report.total_rows, total)
        importer = Importer(
            file_name=file_name,
            acting_user=acting_user,
            report=report,
            scratch=scratch,
        )
        if dry_run:
            with _btree_lookups():
                _apply_all(importer, spill, report, progress, total, write=False)
            _finish_report(report)
        else:
            with _ImportLock(), _btree_lookups():
                recover_unfinished_imports()
                _import_in_chunks(
                    importer, spill, report, progress, total, path, file_name, year, acting_user
                )
    return report
