"""The registry import, product.md section 8: every rule has a test named after it."""

import csv
import datetime as dt
import json
from pathlib import Path

import openpyxl
import pytest
from django.core.management import CommandError, call_command

from campuspass.core.errors import FieldError
from campuspass.core.models import LogEntry
from campuspass.core.phones import normalize_phone
from campuspass.core.plates import normalize_plate
from campuspass.registry.columns import HEADERS
from campuspass.registry.imports import ImportFileError, import_passes, parse_date
from campuspass.registry.models import Pass, Staff, Vehicle

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
SAMPLE_CSV = SHARED / "passes-2018-sample.csv"
SAMPLE_XLSX = SHARED / "passes-2018-sample.xlsx"
SAMPLE_GB = SHARED / "passes-2018-sample-gb18030.csv"
needs_sample = pytest.mark.skipif(not SAMPLE_CSV.exists(), reason="shared/data sample registry not present")

pytestmark = pytest.mark.django_db


def row(**overrides):
    base = {
        "工号": "20010001",
        "姓名": "张三",
        "部门": "基础医学院",
        "手机号": "13812345678",
        "人员状态": "在职",
        "车牌号": "京A12345",
        "车辆类型": "小型汽车",
        "品牌型号": "大众 朗逸",
        "车身颜色": "白色",
        "通行证编号": "YXB201800001",
        "年度": "2018",
        "审核状态": "审核通过",
        "有效期起": "2018-07-01",
        "有效期止": "2019-06-30",
    }
    base.update(overrides)
    return base


def write_csv(path, rows, headers=None, encoding="utf-8", delimiter=","):
    headers = headers or list(rows[0].keys())
    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(headers)
        for item in rows:
            writer.writerow([item.get(h, "") for h in headers])
    return path


def write_xlsx(path, rows, headers=None, preamble=()):
    headers = headers or list(rows[0].keys())
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for line in preamble:
        sheet.append(line)
    sheet.append(headers)
    for item in rows:
        sheet.append([item.get(h) for h in headers])
    workbook.save(path)
    return path


def registry_state():
    """Everything the import writes, as comparable values."""
    return {
        "staff": sorted(Staff.objects.values_list("staff_no", "name", "department", "mobile", "status")),
        "vehicles": sorted(
            Vehicle.objects.values_list("plate", "vehicle_type", "brand_model", "color", "owner__staff_no")
        ),
        "passes": sorted(
            Pass.objects.values_list(
                "year",
                "number",
                "vehicle__plate",
                "holder__staff_no",
                "review_status",
                "valid_from",
                "valid_to",
            )
        ),
    }


def sample_rows():
    with open(SAMPLE_CSV, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@needs_sample
def test_sample_csv_imports_every_row_and_one_person_per_staff_number():
    expected = sample_rows()
    report = import_passes(path=SAMPLE_CSV)
    assert report.rejected == []
    assert report.imported == len(expected) == report.total_rows
    assert Pass.objects.count() == len(expected)
    assert Staff.objects.count() == len({r["工号"] for r in expected})
    assert Vehicle.objects.count() == len({normalize_plate(r["车牌号"]) for r in expected})
    first = expected[0]
    permit = Pass.objects.select_related("vehicle", "holder").get(number=first["通行证编号"])
    assert permit.vehicle.plate == normalize_plate(first["车牌号"])
    assert permit.holder.mobile == normalize_phone(first["手机号"])
    assert permit.valid_from == dt.date.fromisoformat(first["有效期起"])
    # one audit entry per imported row, plus the run itself
    assert LogEntry.objects.filter(action="registry.pass.imported").count() == len(expected)
    assert LogEntry.objects.filter(action="registry.import.completed").count() == 1


@needs_sample
def test_sample_xlsx_and_gb18030_csv_give_the_same_registry_as_utf8_csv():
    import_passes(path=SAMPLE_CSV)
    from_csv = registry_state()
    Pass.objects.all().delete()
    Vehicle.objects.all().delete()
    Staff.objects.all().delete()
    report = import_passes(path=SAMPLE_XLSX)
    assert report.rejected == []
    assert registry_state() == from_csv

    gb_report = import_passes(path=SAMPLE_GB)
    gb_rows = SAMPLE_GB.read_bytes().decode("gb18030").splitlines()[1:]
    assert gb_report.rejected == []
    assert gb_report.unchanged == len([line for line in gb_rows if line.strip()])


@needs_sample
def test_reimport_changes_nothing():
    import_passes(path=SAMPLE_XLSX)
    before = registry_state()
    entries = LogEntry.objects.count()
    report = import_passes(path=SAMPLE_XLSX)
    assert (report.imported, report.updated, len(report.rejected)) == (0, 0, 0)
    assert report.unchanged == report.total_rows
    assert registry_state() == before
    assert LogEntry.objects.exclude(action="registry.import.completed").count() == entries - 1


def test_changed_row_updates_the_record_and_is_audited(tmp_path):
    import_passes(path=write_csv(tmp_path / "a.csv", [row()]))
    report = import_passes(path=write_csv(tmp_path / "b.csv", [row(手机号="139 0000 1111", 车身颜色="黑色")]))
    assert (report.imported, report.updated, report.unchanged) == (0, 1, 0)
    assert Staff.objects.get().mobile == "13900001111"
    assert Vehicle.objects.get().color == "黑色"
    staff_entry = LogEntry.objects.get(action="registry.staff.updated")
    assert staff_entry.data["changes"]["mobile"] == ["13812345678", "13900001111"]
    assert staff_entry.data["row"] == 2
    assert staff_entry.staff_no == "20010001"
    vehicle_entry = LogEntry.objects.get(action="registry.vehicle.updated")
    assert vehicle_entry.data["changes"] == {"color": ["白色", "黑色"]}
    assert vehicle_entry.plate == "京A12345"


def test_headers_in_any_order_and_extra_columns_ignored(tmp_path):
    headers = ["备注", *reversed(HEADERS), "序号"]
    rows = [row(备注="随便", 序号="1")]
    report = import_passes(path=write_csv(tmp_path / "r.csv", rows, headers=headers))
    assert report.imported == 1 and report.rejected == []
    assert Staff.objects.get().name == "张三"


def test_bad_row_never_stops_the_good_ones_and_names_row_and_field(tmp_path):
    rows = [
        row(),
        row(工号="20010002", 车牌号="京A1234", 通行证编号="YXB201800002"),  # row 3: plate too short
        row(工号="20010003", 车牌号="京B54321", 通行证编号="YXB201800003", 手机号="12345"),  # row 4
        row(工号="20010004", 车牌号="京C54321", 通行证编号="YXB201800004", 人员状态="在岗"),  # row 5
        row(工号="20010005", 车牌号="京D54321", 通行证编号="YXB201800005", 有效期起="2018-13-01"),
        row(工号="20010006", 车牌号="京E54321", 通行证编号="YXB201800006", 审核状态="通过了"),
        row(工号="", 车牌号="京F54321", 通行证编号="YXB201800007"),
        row(工号="20010008", 车牌号="京G54321", 通行证编号="YXB201800008"),
    ]
    report = import_passes(path=write_csv(tmp_path / "r.csv", rows))
    assert report.imported == 2
    rejected = {item["row"]: item["field"] for item in report.rejected}
    assert rejected == {3: "车牌号", 4: "手机号", 5: "人员状态", 6: "有效期起", 7: "审核状态", 8: "工号"}
    assert all(item["reason"].startswith(item["field"] + "：") for item in report.rejected)
    assert set(Pass.objects.values_list("number", flat=True)) == {"YXB201800001", "YXB201800008"}


def test_row_with_several_problems_lists_them_all(tmp_path):
    report = import_passes(path=write_csv(tmp_path / "r.csv", [row(手机号="", 车牌号="京AI2345")]))
    (item,) = report.rejected
    assert item["fields"] == ["手机号", "车牌号"]
    assert "不能为空" in item["reason"] and "I" in item["reason"]


def test_several_problems_are_joined_without_doubled_punctuation(tmp_path):
    report = import_passes(path=write_csv(tmp_path / "r.csv", [row(手机号="12345678901", 车牌号="京AI2345")]))
    (item,) = report.rejected
    assert "。；" not in item["reason"]
    assert item["reason"].startswith("手机号：") and "；车牌号：" in item["reason"]
    assert item["reason"].endswith("。")


def test_pass_number_twice_in_one_file_later_row_rejected(tmp_path):
    rows = [row(), row(工号="20010002", 车牌号="京B11111")]
    report = import_passes(path=write_csv(tmp_path / "r.csv", rows))
    assert report.imported == 1
    assert report.rejected[0]["row"] == 3
    assert report.rejected[0]["field"] == "通行证编号"
    assert "第2行" in report.rejected[0]["reason"]
    assert Pass.objects.get().vehicle.plate == "京A12345"


def test_plate_twice_in_one_year_later_row_rejected(tmp_path):
    rows = [row(), row(通行证编号="YXB201800002", 车牌号="京a-12345")]
    report = import_passes(path=write_csv(tmp_path / "r.csv", rows))
    assert [(r["row"], r["field"]) for r in report.rejected] == [(3, "车牌号")]


def test_plate_with_another_pass_on_file_is_rejected_not_duplicated(tmp_path):
    import_passes(path=write_csv(tmp_path / "a.csv", [row()]))
    report = import_passes(path=write_csv(tmp_path / "b.csv", [row(通行证编号="YXB201899999")]))
    assert report.rejected[0]["field"] == "车牌号"
    assert "YXB201800001" in report.rejected[0]["reason"]
    assert Pass.objects.count() == 1


def test_one_person_may_hold_passes_for_two_vehicles(tmp_path):
    rows = [row(), row(车牌号="京FD12345", 车辆类型="新能源小型汽车", 通行证编号="YXB201800002")]
    report = import_passes(path=write_csv(tmp_path / "r.csv", rows))
    assert report.imported == 2
    staff = Staff.objects.get()
    assert sorted(staff.passes.values_list("vehicle__plate", flat=True)) == ["京A12345", "京FD12345"]


def test_same_staff_number_with_different_name_or_phone_later_row_wins_and_is_audited(tmp_path):
    rows = [
        row(),
        row(姓名="张叁", 手机号="13900001111", 车牌号="京B22222", 通行证编号="YXB201800002"),
    ]
    path = write_csv(tmp_path / "r.csv", rows)
    report = import_passes(path=path)
    assert report.imported == 2
    staff = Staff.objects.get()
    assert (staff.name, staff.mobile) == ("张叁", "13900001111")
    (warning,) = report.warnings
    assert warning["row"] == 3 and "姓名" in warning["reason"] and "手机号" in warning["reason"]
    # and the same file again changes nothing
    again = import_passes(path=path)
    assert (again.imported, again.updated, again.unchanged) == (0, 0, 2)


def test_later_row_wins_over_the_record_on_file(tmp_path):
    import_passes(path=write_csv(tmp_path / "a.csv", [row()]))
    rows = [row(), row(手机号="13900001111", 车牌号="京B22222", 通行证编号="YXB201800002")]
    import_passes(path=write_csv(tmp_path / "b.csv", rows))
    assert Staff.objects.get().mobile == "13900001111"
    entry = LogEntry.objects.get(action="registry.staff.updated")
    assert entry.data["changes"]["mobile"] == ["13812345678", "13900001111"]


def test_pass_moved_to_another_vehicle_and_holder_is_updated(tmp_path):
    import_passes(path=write_csv(tmp_path / "a.csv", [row()]))
    report = import_passes(path=write_csv(tmp_path / "b.csv", [row(车牌号="京B22222", 工号="20010002")]))
    assert report.updated == 1
    permit = Pass.objects.get()
    assert (permit.vehicle.plate, permit.holder.staff_no) == ("京B22222", "20010002")
    entry = LogEntry.objects.get(action="registry.pass.updated")
    assert entry.data["changes"]["vehicle"] == ["京A12345", "京B22222"]


def test_excel_date_cells_serials_and_text_dates(tmp_path):
    rows = [
        row(有效期起=dt.datetime(2018, 7, 1), 有效期止=dt.date(2019, 6, 30)),
        row(工号="2", 车牌号="京B22222", 通行证编号="N2", 有效期起=43282, 有效期止="2019/6/30"),
        row(工号="3", 车牌号="京C33333", 通行证编号="N3", 有效期起="2018年7月1日", 有效期止="2019.06.30"),
        row(工号="4", 车牌号="京D44444", 通行证编号="N4", 有效期起="20180701", 有效期止=None),
    ]
    report = import_passes(path=write_xlsx(tmp_path / "d.xlsx", rows))
    assert report.rejected == []
    starts = set(Pass.objects.values_list("valid_from", flat=True))
    assert starts == {dt.date(2018, 7, 1)}
    assert Pass.objects.get(number="N4").valid_to is None
    assert Pass.objects.get(number="N2").valid_to == dt.date(2019, 6, 30)


def test_excel_numbers_for_staff_number_phone_and_year(tmp_path):
    rows = [row(工号=20010001, 手机号=13812345678, 年度=2018.0)]
    report = import_passes(path=write_xlsx(tmp_path / "n.xlsx", rows))
    assert report.rejected == []
    assert Staff.objects.get().staff_no == "20010001"
    assert Staff.objects.get().mobile == "13812345678"


def test_title_rows_above_the_header_keep_spreadsheet_row_numbers(tmp_path):
    rows = [row(), row(工号="2", 车牌号="京B22222", 通行证编号="N2", 手机号="1")]
    path = write_xlsx(tmp_path / "t.xlsx", rows, preamble=[["2018年机动车通行证名单"], []])
    report = import_passes(path=path)
    assert report.imported == 1
    assert report.rejected[0]["row"] == 5  # title, blank, header, first row, this row


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings(tmp_path, encoding):
    path = write_csv(tmp_path / "e.csv", [row(姓名="欧阳娜娜", 部门="公共卫生学院")], encoding=encoding)
    assert import_passes(path=path).imported == 1
    assert Staff.objects.get().name == "欧阳娜娜"


def test_excel_unicode_text_utf16_tab_separated(tmp_path):
    path = write_csv(tmp_path / "u.txt", [row()], encoding="utf-16", delimiter="\t")
    assert import_passes(path=path).imported == 1


def test_renamed_files_are_recognised_by_content(tmp_path):
    xlsx = write_xlsx(tmp_path / "x.xlsx", [row()])
    renamed = tmp_path / "registry.csv"
    renamed.write_bytes(xlsx.read_bytes())
    assert import_passes(path=renamed).imported == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "空"),
        (b"   \r\n\r\n", "空"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "不是表格文件"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, ".xls"),
        (b"PK\x03\x04garbage that is not a zip", "无法读取这个 Excel 文件"),
        (b"a,b,c\n1,2,3\n", "未找到表头"),
        ("工号,姓名,车牌号\n1,张三,京A12345\n".encode(), "缺少必需的列"),
        ("工号,工号,姓名,手机号,人员状态,车牌号,通行证编号,年度,审核状态\n".encode(), "出现了两次"),
    ],
)
def test_file_that_cannot_be_imported_gets_one_clear_error_and_writes_nothing(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(ImportFileError) as excinfo:
        import_passes(path=path)
    assert message in excinfo.value.message
    assert Staff.objects.count() == 0 and LogEntry.objects.count() == 0


def test_header_only_file_imports_nothing_without_error(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text(",".join(HEADERS) + "\n", encoding="utf-8")
    report = import_passes(path=path)
    assert (report.total_rows, report.imported, report.rejected) == (0, 0, [])


def test_missing_year_column_needs_year_option(tmp_path):
    headers = [h for h in HEADERS if h != "年度"]
    path = write_csv(tmp_path / "y.csv", [row()], headers=headers)
    with pytest.raises(ImportFileError, match="年度"):
        import_passes(path=path)
    assert import_passes(path=path, year=2018).imported == 1
    assert Pass.objects.get().year == 2018


def test_year_option_disagreeing_with_the_column_rejects_the_row(tmp_path):
    report = import_passes(path=write_csv(tmp_path / "y.csv", [row(年度="2017")]), year=2018)
    assert report.rejected[0]["field"] == "年度"


def test_optional_columns_absent_keep_what_is_on_file(tmp_path):
    import_passes(path=write_csv(tmp_path / "a.csv", [row()]))
    headers = [h for h in HEADERS if h not in {"部门", "车身颜色", "有效期起", "有效期止"}]
    report = import_passes(path=write_csv(tmp_path / "b.csv", [row()], headers=headers))
    assert report.unchanged == 1
    assert Staff.objects.get().department == "基础医学院"
    assert Pass.objects.get().valid_from == dt.date(2018, 7, 1)


def test_dry_run_reports_exactly_what_the_import_does_and_writes_nothing(tmp_path):
    rows = [
        row(),
        row(工号="2", 车牌号="京B22222", 通行证编号="N2"),
        row(工号="3", 车牌号="bad", 通行证编号="N3"),
    ]
    path = write_csv(tmp_path / "r.csv", rows)
    preview = import_passes(path=path, dry_run=True)
    assert (Staff.objects.count(), Pass.objects.count(), LogEntry.objects.count()) == (0, 0, 0)
    real = import_passes(path=path)
    assert {**preview.as_dict(), "dry_run": False} == real.as_dict()


def test_progress_is_reported_up_to_the_total(tmp_path):
    rows = [row(工号=str(i), 车牌号=f"京B{i:05d}", 通行证编号=f"N{i}") for i in range(1, 2501)]
    calls = []
    import_passes(
        path=write_csv(tmp_path / "p.csv", rows), progress=lambda done, total: calls.append((done, total))
    )
    assert calls[-1][0] == calls[-1][1]
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_parse_date_rejects_nonsense():
    with pytest.raises(FieldError, match="无法识别，请写成 2019-07-01 的格式"):
        parse_date("明年")
    assert parse_date("2019-07-01 00:00:00") == dt.date(2019, 7, 1)


def test_command_writes_the_report_json(tmp_path, capsys):
    rows = [row(), row(工号="2", 车牌号="京O22222", 通行证编号="N2")]
    report_path = tmp_path / "report.json"
    call_command("import_passes", str(write_csv(tmp_path / "r.csv", rows)), "--report", str(report_path))
    data = json.loads(report_path.read_text(encoding="utf-8"))
    assert (data["imported"], data["updated"], data["unchanged"]) == (1, 0, 0)
    assert data["rejected"] == [
        {"row": 3, "field": "车牌号", "fields": ["车牌号"], "reason": data["rejected"][0]["reason"]}
    ]
    out = capsys.readouterr().out
    assert "新增 1" in out and "第3行" in out


def test_command_dry_run_and_file_errors(tmp_path):
    path = write_csv(tmp_path / "r.csv", [row()])
    call_command("import_passes", str(path), "--dry-run")
    assert Pass.objects.count() == 0
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"")
    with pytest.raises(CommandError, match="未导入任何数据"):
        call_command("import_passes", str(bad))
    with pytest.raises(CommandError, match="找不到文件"):
        call_command("import_passes", str(tmp_path / "missing.xlsx"))
