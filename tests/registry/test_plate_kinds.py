"""Plate colour and plate type (decision 0026): inferred when a file does not say, checked when it does,
exported and re-imported."""

import io

import openpyxl
import pytest

from campuspass.core import plate_kinds
from campuspass.core.errors import CampusPassError
from campuspass.registry import services
from campuspass.registry.exports import export_passes
from campuspass.registry.imports import import_passes
from campuspass.registry.models import Staff, Vehicle

from .test_imports import SAMPLE_CSV, needs_sample, row, write_csv

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("plate", "colour", "plate_type"),
    [
        ("京A12345", "blue", "02"),
        ("京AD12345", "green", "52"),
        ("京A12345D", "green", "51"),
        ("京A1234学", "yellow", "16"),
        ("京A1234挂", "yellow", "15"),
        ("京A1234警", "white", "23"),
        ("粤Z1234港", "black", "26"),
    ],
)
def test_inferred_from_the_plate(plate, colour, plate_type):
    assert plate_kinds.infer_kind(plate) == (colour, plate_type)


def test_green_means_eight_characters():
    assert plate_kinds.check_kind("京AD12345", "green", "52") == []
    assert plate_kinds.check_kind("京A12345", "green", "02")[0][0] == "车牌颜色"
    assert plate_kinds.check_kind("京AD12345", "blue", "02")[0][0] == "车牌颜色"
    assert plate_kinds.check_kind("京A12345", "blue", "52")[0][0] == "号牌种类"


@needs_sample
def test_sample_file_without_the_columns_still_imports_and_infers():
    report = import_passes(path=SAMPLE_CSV)
    assert report.rejected == []
    for vehicle in Vehicle.objects.all()[:200]:
        assert (vehicle.plate_colour, vehicle.plate_type) == plate_kinds.infer_kind(vehicle.plate)
    assert Vehicle.objects.filter(plate_colour="green").exists()


def test_columns_read_in_any_spelling_and_kept_when_a_later_file_lacks_them(tmp_path):
    first = write_csv(tmp_path / "a.csv", [row(车牌号="京A1234学", 车牌颜色="黄色", 号牌种类="16")])
    assert import_passes(path=first).rejected == []
    vehicle = Vehicle.objects.get()
    assert (vehicle.plate_colour, vehicle.plate_type) == ("yellow", "16")
    # Same row, without the columns and with empty cells: what is on file stays.
    assert import_passes(path=write_csv(tmp_path / "b.csv", [row(车牌号="京A1234学")])).unchanged == 1
    empty = write_csv(tmp_path / "c.csv", [row(车牌号="京A1234学", 车牌颜色="", 号牌种类="")])
    assert import_passes(path=empty).unchanged == 1
    vehicle.refresh_from_db()
    assert (vehicle.plate_colour, vehicle.plate_type) == ("yellow", "16")
    # A stated change is applied and audited like any other vehicle field.
    changed = write_csv(tmp_path / "d.csv", [row(车牌号="京A1234学", 车牌颜色="白")])
    assert import_passes(path=changed).updated == 1
    vehicle.refresh_from_db()
    assert vehicle.plate_colour == "white"


def test_contradictions_are_rejected_with_a_reason(tmp_path):
    path = write_csv(
        tmp_path / "bad.csv",
        [
            row(车牌号="京A12345", 车牌颜色="绿", 号牌种类="", 通行证编号="A1"),
            row(车牌号="京AD12345", 车牌颜色="蓝", 工号="20010002", 通行证编号="A2"),
            row(车牌号="京A54321", 车牌颜色="紫", 工号="20010003", 通行证编号="A3"),
            row(车牌号="京A54322", 号牌种类="飞机", 工号="20010004", 通行证编号="A4"),
        ],
    )
    report = import_passes(path=path)
    reasons = {item["row"]: item["reason"] for item in report.rejected}
    assert "绿牌是新能源车牌，应为 8 位" in reasons[2]
    assert "车牌颜色应为绿色" in reasons[3]
    assert "车牌颜色应为 蓝、黄、白、黑、绿 之一" in reasons[4]
    assert "号牌种类应为" in reasons[5]
    assert not Vehicle.objects.exists()


def test_export_carries_the_columns_and_re_imports_unchanged(tmp_path):
    write_csv(
        tmp_path / "a.csv", [row(车牌号="京AD12345"), row(车牌号="京A1234警", 工号="2", 通行证编号="B")]
    )
    import_passes(path=tmp_path / "a.csv")
    stream = io.BytesIO()
    export_passes(stream=stream)
    sheet = openpyxl.load_workbook(io.BytesIO(stream.getvalue())).active
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    values = {
        r[header.index("车牌号")]: (r[header.index("车牌颜色")], r[header.index("号牌种类")])
        for r in rows[1:]
    }
    assert values == {"京AD12345": ("绿", "小型新能源汽车"), "京A1234警": ("白", "警用汽车")}
    path = tmp_path / "export.xlsx"
    path.write_bytes(stream.getvalue())
    report = import_passes(path=path)
    assert report.unchanged == 2 and report.rejected == []


def test_services_infer_and_refuse():
    owner = Staff.objects.create(staff_no="1", name="王五", mobile="13812345678", status="active")
    vehicle = services.vehicle_create(plate="京AD12345", owner=owner)
    assert (vehicle.plate_colour, vehicle.plate_type) == ("green", "52")
    with pytest.raises(CampusPassError, match="8 位"):
        services.vehicle_create(plate="京A11111", owner=owner, plate_colour="绿")
    # A new 7-character plate re-infers the colour the old green one had.
    vehicle = services.vehicle_update(vehicle=vehicle, plate="京A22222")
    assert (vehicle.plate_colour, vehicle.plate_type) == ("blue", "02")
