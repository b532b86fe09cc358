"""One rule per field (issue 11): the import, the services and every form give the SAME answer for
the same value — accepted with the same normalised value, or refused with the same Chinese message.

Each value of the corpus below goes through every door that takes the field:
- the import (a one-row .csv file, every other cell valid);
- the service (registry.services.staff_create / vehicle_create / pass_create);
- the on-site desk's form (backoffice.forms) and the admin's form (registry.admin).
The import reports "字段：message"; the services raise it; the forms show it under the field.
"""

from __future__ import annotations

import csv
import datetime as dt
import pickle
from dataclasses import dataclass

import pytest

from campuspass.backoffice import forms as desk_forms
from campuspass.core.errors import CampusPassError
from campuspass.registry import admin as registry_admin
from campuspass.registry import services
from campuspass.registry.imports import import_passes
from campuspass.registry.models import Pass, Staff, Vehicle

pytestmark = pytest.mark.django_db

BASE_ROW = {
    "工号": "20010001",
    "姓名": "张三",
    "部门": "基础医学院",
    "手机号": "13812345678",
    "人员状态": "在职",
    "车牌号": "京A12345",
    "车辆类型": "小型汽车",
    "品牌型号": "大众朗逸",
    "车身颜色": "白色",
    "车牌颜色": "",
    "号牌种类": "",
    "通行证编号": "YXB201800001",
    "年度": "2018",
    "审核状态": "审核通过",
    "有效期起": "2018-07-01",
    "有效期止": "2019-06-30",
}
STAFF = {"staff_no": "20010001", "name": "张三", "department": "基础医学院", "mobile": "13812345678"}
STAFF_SERVICE = {**STAFF, "status": "在职"}
STAFF_FORM = {**STAFF, "status": "active", "reason": "测试"}
VEHICLE = {"vehicle_type": "小型汽车", "brand_model": "大众朗逸", "color": "白色"}
PASS = {"year": "2018", "number": "YXB201800001", "valid_from": "2018-07-01", "valid_to": "2019-06-30"}


@dataclass(frozen=True)
class Field:
    column: str  # the import's column
    name: str  # the model field, the service's keyword and the forms' field
    kind: str  # staff, vehicle or pass
    desk: bool = True  # on the on-site desk's form
    admin: bool = True  # on the admin's form


F = {
    "staff_no": Field("工号", "staff_no", "staff"),
    "name": Field("姓名", "name", "staff"),
    "department": Field("部门", "department", "staff"),
    "mobile": Field("手机号", "mobile", "staff"),
    # Choices: the forms offer a list (see test_form_choices_are_the_rules_choices).
    "status": Field("人员状态", "status", "staff", desk=False, admin=False),
    "plate": Field("车牌号", "plate", "vehicle"),
    "vehicle_type": Field("车辆类型", "vehicle_type", "vehicle"),
    "brand_model": Field("品牌型号", "brand_model", "vehicle"),
    "color": Field("车身颜色", "color", "vehicle"),
    "plate_colour": Field("车牌颜色", "plate_colour", "vehicle", desk=False, admin=False),
    "plate_type": Field("号牌种类", "plate_type", "vehicle", desk=False, admin=False),
    "number": Field("通行证编号", "number", "pass"),
    "year": Field("年度", "year", "pass", desk=False),
    "review_status": Field("审核状态", "review_status", "pass", desk=False, admin=False),
    "valid_from": Field("有效期起", "valid_from", "pass"),
    "valid_to": Field("有效期止", "valid_to", "pass"),
}

CORPUS = {
    "staff_no": [
        "20010001",
        " 20010001 ",
        "'20010001",  # Excel's "this is text" apostrophe
        "２００１０００１",  # full-width digits
        "\u200b20010001",  # a zero-width space pasted from a web page
        "A-01_b",
        "",
        "工号1",
        "1" * 33,
    ],
    "name": ["张三", " 张三 ", "张  三", "Ｊｏｈｎ", "", "张" * 64, "张" * 65],
    "department": ["基础医学院", "", "基础  医学院", "院" * 128, "院" * 129],
    "mobile": [
        "13812345678",
        "'13812345678",
        "+86 138-1234-5678",
        "138 1234 5678",
        "１３８１２３４５６７８",
        "13812345678.0",
        "1381234567",
        "12812345678",
        "+44 7911 123456",
        "abc",
        "",
        "1" * 40,
    ],
    "status": ["在职", "退休", "在 职", "active", "已故", ""],
    "plate": [
        "京A12345",
        "京a·12345",
        "京 A · 1 · 2 · 3 · 4 · 5",  # 21 characters as typed, a valid plate once cleaned
        "京AD12345",
        "京A1234学",
        "'京A12345",
        "京A1234I",
        "沪A1234",
        "A12345",
        "",
    ],
    "vehicle_type": ["小型汽车", "", "小型  汽车", "车" * 32, "车" * 33],
    "brand_model": ["大众朗逸", "", "大众 朗逸", "型" * 64, "型" * 65],
    "color": ["白色", "", "白" * 16, "白" * 17],
    "plate_colour": ["蓝", "蓝色", "blue", "绿", "紫", ""],
    "plate_type": ["02", "2", "小型汽车", "52", "99", ""],
    "number": [
        "YXB201800001",
        " yxb 2018 00001 ",
        "'YXB201800001",
        "ＹＸＢ２０１８００００１",
        "",
        "Y" * 32,
        "Y" * 33,
    ],
    "year": ["2018", "2018年", "2018年度", "２０１８", "18", "1999", "二〇一八", ""],
    "review_status": ["审核通过", "待审核", "approved", "通过", ""],
    "valid_from": ["2018-07-01", "2018/7/1", "2018年7月1日", "20180701", "2018-13-01", "July 1", ""],
    "valid_to": ["2019-06-30", "2019.6.30", "2018-06-30", "30/06/2019", ""],
}
CASES = [(name, value) for name, values in CORPUS.items() for value in values]


# --- the doors ---------------------------------------------------------------------------------------


def _outcome_of_model(field: Field):
    model = {"staff": Staff, "vehicle": Vehicle, "pass": Pass}[field.kind]
    return ("accepted", getattr(model.objects.get(), field.name))


def through_import(tmp_path, field: Field, value: str):
    path = tmp_path / "one.csv"
    row = {**BASE_ROW, field.column: value}
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(row.keys())
        writer.writerow(row.values())
    report = import_passes(path=path)
    if report.rejected:
        (rejected,) = report.rejected
        assert rejected["fields"] == [field.column], rejected
        prefix = field.column + "："
        assert rejected["reason"].startswith(prefix), rejected
        return ("refused", rejected["reason"][len(prefix) :])
    assert report.imported == 1
    return _outcome_of_model(field)


def _owner():
    return Staff.objects.create(**{**STAFF, "staff_no": "OWNER1", "status": "active"})


def _vehicle(owner):
    return Vehicle.objects.create(plate="京B99999", owner=owner)


def through_service(field: Field, value: str):
    try:
        if field.kind == "staff":
            obj = services.staff_create(**{**STAFF_SERVICE, field.name: value})
        elif field.kind == "vehicle":
            obj = services.vehicle_create(
                owner=_owner(), **{"plate": "京A12345", **VEHICLE, field.name: value}
            )
        else:
            owner = _owner()
            values = {**PASS, "review_status": "审核通过", field.name: value}
            obj = services.pass_create(vehicle=_vehicle(owner), holder=owner, **values)
    except CampusPassError as exc:
        return ("refused", exc.message)
    obj.refresh_from_db()
    return ("accepted", getattr(obj, field.name))


def _form_outcome(form, field: Field):
    if form.is_valid():
        return ("accepted", form.cleaned_data[field.name])
    assert set(form.errors) == {field.name}, form.errors
    (message,) = form.errors[field.name]
    return ("refused", message)


def through_desk_form(field: Field, value: str):
    if field.kind == "staff":
        form = desk_forms.StaffForm({**STAFF_FORM, field.name: value})
    elif field.kind == "vehicle":
        owner = _owner()
        data = {"plate": "京A12345", "owner_staff_no": owner.staff_no, **VEHICLE, "reason": "测试"}
        form = desk_forms.VehicleForm({**data, field.name: value})
    else:
        data = {**PASS, "review_status": "approved", "reason": "测试"}
        form = desk_forms.PassEditForm({**data, field.name: value})
    return _form_outcome(form, field)


def through_admin_form(field: Field, value: str):
    if field.kind == "staff":
        form = registry_admin.StaffForm({**STAFF_FORM, field.name: value})
    elif field.kind == "vehicle":
        owner = _owner()
        form = registry_admin.VehicleForm(
            {"plate": "京A12345", "owner": owner.pk, **VEHICLE, field.name: value}
        )
    else:
        owner = _owner()
        data = {
            **PASS,
            "vehicle": _vehicle(owner).pk,
            "holder": owner.pk,
            "review_status": "approved",
            "source": "admin",
        }
        form = registry_admin.PassForm({**data, field.name: value})
    return _form_outcome(form, field)


def _clear():
    Pass.objects.all().delete()
    Vehicle.objects.all().delete()
    Staff.objects.all().delete()


# --- the test ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "value"), CASES, ids=[f"{n}-{v!r}" for n, v in CASES])
def test_every_door_gives_the_same_answer(tmp_path, name, value):
    field = F[name]
    answers = {"import": through_import(tmp_path, field, value)}
    _clear()
    answers["service"] = through_service(field, value)
    _clear()
    if field.desk:
        answers["desk form"] = through_desk_form(field, value)
        _clear()
    if field.admin:
        answers["admin form"] = through_admin_form(field, value)
    expected = answers["service"]
    assert answers == dict.fromkeys(answers, expected)
    if expected[0] == "refused":
        assert expected[1].endswith("。"), "a message for a person is a sentence"


def test_known_answers():
    """A few answers spelled out, so that "the same everywhere" cannot mean "the same wrong"."""
    assert through_service(F["mobile"], "'13812345678") == ("accepted", "13812345678")
    _clear()
    assert through_service(F["staff_no"], "２００１０００１") == ("accepted", "20010001")
    _clear()
    assert through_service(F["year"], "2018年") == ("accepted", 2018)
    _clear()
    assert through_service(F["valid_from"], "2018/7/1") == ("accepted", dt.date(2018, 7, 1))


def test_one_error_family():
    """InvalidPhone and InvalidPlate are FieldErrors of their field; every rule raises FieldError;
    they survive pickling (the task queue carries them)."""
    from campuspass.core.errors import FieldError
    from campuspass.core.phones import InvalidPhone
    from campuspass.core.plates import InvalidPlate
    from campuspass.registry.fields import RULES

    for name, bad in (("mobile", "123"), ("plate", "京A1234I"), ("staff_no", "工号"), ("year", "18")):
        with pytest.raises(FieldError) as caught:
            RULES[name].clean(bad)
        assert caught.value.field == name and caught.value.label == RULES[name].label
        assert isinstance(caught.value, CampusPassError)
        copy = pickle.loads(pickle.dumps(caught.value))  # noqa: S301 - our own bytes, just made
        assert (type(copy), copy.message, copy.field, copy.code) == (
            type(caught.value),
            caught.value.message,
            name,
            caught.value.code,
        )
    assert issubclass(InvalidPhone, FieldError) and issubclass(InvalidPlate, FieldError)


def test_form_choices_are_the_rules_choices():
    from campuspass.registry.fields import RULES

    assert list(desk_forms.StaffForm().fields["status"].choices) == RULES["status"].choices
    assert list(desk_forms.PassEditForm().fields["review_status"].choices) == RULES["review_status"].choices


def test_service_error_lands_on_its_field():
    """A FieldError from a service is shown under the field it names."""
    from campuspass.core.errors import FieldError

    form = desk_forms.StaffForm(STAFF_FORM)
    assert form.is_valid()
    desk_forms.add_service_error(form, FieldError("手机号有误。", field="mobile", label="手机号"))
    assert form.errors == {"mobile": ["手机号有误。"]}
