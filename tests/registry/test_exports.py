"""The registry export: the import's format, real dates, phones as text, and an export re-imports
unchanged."""

import datetime as dt
import io
from pathlib import Path

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from campuspass.core.models import LogEntry
from campuspass.registry.columns import HEADERS
from campuspass.registry.exports import export_passes
from campuspass.registry.imports import import_passes
from campuspass.registry.models import Pass

from .test_imports import registry_state, row, write_csv

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SAMPLE_CSV = SHARED / "passes-2018-sample.csv"
SAMPLE_XLSX = SHARED / "passes-2018-sample.xlsx"

pytestmark = pytest.mark.django_db


def generated_rows():
    return [
        row(),
        row(
            工号="0012",
            姓名="李四",
            部门="",
            手机号="+86 139-0000-1111",
            车牌号="京 ad·12345",
            车辆类型="",
            品牌型号="",
            车身颜色="",
            通行证编号="YXB201800002",
            审核状态="待审核",
            有效期起="",
            有效期止="",
        ),  # fmt: skip
        row(通行证编号="YXB201800003", 车牌号="津B54321", 人员状态="在职"),  # same person, second car
        row(
            工号="20010009",
            姓名="王五",
            手机号="15000000000",
            人员状态="退休",
            车牌号="沪C11111",
            通行证编号="YXB201900001",
            年度="2019",
            审核状态="审核未通过",
        ),  # fmt: skip
    ]


def assert_round_trip(tmp_path, source):
    first = import_passes(path=source)
    assert first.rejected == []
    before = registry_state()
    out = tmp_path / "export.xlsx"
    rows = export_passes(path=out)
    assert rows == Pass.objects.count()
    again = import_passes(path=out)
    assert (again.imported, again.updated, again.rejected) == (0, 0, [])
    assert again.unchanged == again.total_rows == rows
    assert registry_state() == before
    return out


def test_generated_registry_round_trips_unchanged(tmp_path):
    assert_round_trip(tmp_path, write_csv(tmp_path / "in.csv", generated_rows()))


@pytest.mark.skipif(not SAMPLE_CSV.exists(), reason="shared/data sample registry not present")
@pytest.mark.parametrize("sample", [SAMPLE_CSV, SAMPLE_XLSX], ids=["csv", "xlsx"])
def test_sample_round_trips_unchanged(tmp_path, sample):
    assert_round_trip(tmp_path, sample)


def test_export_cells_headers_dates_labels_and_text_phones(tmp_path):
    import_passes(path=write_csv(tmp_path / "in.csv", generated_rows()))
    stream = io.BytesIO()
    export_passes(year=2018, stream=stream)
    sheet = openpyxl.load_workbook(io.BytesIO(stream.getvalue())).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == HEADERS
    assert len(rows) == 1 + 3  # 2018 only
    by_number = {r[HEADERS.index("通行证编号")]: r for r in rows[1:]}
    first = by_number["YXB201800001"]
    assert first[HEADERS.index("人员状态")] == "在职"
    assert first[HEADERS.index("审核状态")] == "审核通过"
    assert first[HEADERS.index("有效期起")] == dt.datetime(2018, 7, 1)  # a real Excel date
    assert first[HEADERS.index("年度")] == 2018
    second = by_number["YXB201800002"]
    assert second[HEADERS.index("手机号")] == "13900001111"  # text, never a number
    assert second[HEADERS.index("工号")] == "0012"  # leading zeros kept
    assert second[HEADERS.index("车牌号")] == "京AD12345"
    assert second[HEADERS.index("审核状态")] == "待审核"
    assert second[HEADERS.index("有效期起")] is None
    phone_cell = sheet.cell(row=2, column=HEADERS.index("手机号") + 1)
    assert phone_cell.data_type == "s"
    assert phone_cell.number_format == "@"
    date_cell = sheet.cell(row=2, column=HEADERS.index("有效期起") + 1)
    assert date_cell.is_date


def test_export_is_audited():
    stream = io.BytesIO()
    assert export_passes(year=2018, stream=stream) == 0
    entry = LogEntry.objects.get(action="registry.export.created")
    assert entry.data["rows"] == 0
    assert entry.data["year"] == 2018


def test_export_needs_exactly_one_target():
    with pytest.raises(TypeError):
        export_passes()


def test_export_command(tmp_path, capsys):
    import_passes(path=write_csv(tmp_path / "in.csv", generated_rows()))
    out = tmp_path / "out.xlsx"
    call_command("export_passes", str(out), "--year", "2019")
    assert "已导出2019 年度通行证 1 条" in capsys.readouterr().out
    assert openpyxl.load_workbook(out).worksheets[0].max_row == 2
    with pytest.raises(CommandError, match="年度"):
        call_command("export_passes", str(out), "--year", "19")
    with pytest.raises(CommandError, match=".xlsx"):
        call_command("export_passes", str(tmp_path / "out.csv"))
    with pytest.raises(CommandError, match="目录不存在"):
        call_command("export_passes", str(tmp_path / "missing" / "out.xlsx"))


@pytest.mark.slow
def test_export_streams_100000_rows(tmp_path):
    """Write-only mode and a chunked cursor: the export of a large registry finishes and re-reads."""
    from campuspass.registry.models import Staff, Vehicle

    count = 100_000
    staff = Staff.objects.bulk_create(
        Staff(staff_no=f"S{i:06d}", name=f"职工{i}", mobile=f"138{i:08d}", status="active")
        for i in range(count)
    )
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    vehicles = Vehicle.objects.bulk_create(
        Vehicle(plate=f"京{letters[i // 100000 % 24]}{i % 100000:05d}", owner=s) for i, s in enumerate(staff)
    )
    Pass.objects.bulk_create(
        Pass(year=2018, number=f"N{i:06d}", vehicle=v, holder=s, review_status="approved")
        for i, (v, s) in enumerate(zip(vehicles, staff, strict=True))
    )
    if connection.vendor == "postgresql":
        # Autovacuum may have analysed these tables earlier in the suite while they held a few rows;
        # the 100,000 rows above are not committed, so the planner would still expect a few and
        # could loop over one table per row of another (the export's cursor then takes hours).
        # ANALYZE in this transaction counts them (as a real import's commit and autovacuum would).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE registry_staff, registry_vehicle, registry_pass")
    out = tmp_path / "big.xlsx"
    assert export_passes(path=out) == count
    sheet = openpyxl.load_workbook(out, read_only=True).worksheets[0]
    assert sum(1 for _ in sheet.iter_rows(values_only=True)) == count + 1
