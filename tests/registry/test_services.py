"""Single-record writes (services.py): validated like the import, audited with their changes."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model

from campuspass.core.errors import CampusPassError
from campuspass.core.models import LogEntry
from campuspass.registry import services
from campuspass.registry.models import Pass, Staff, Vehicle

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk():
    return get_user_model().objects.create_user("clerk", password="x" * 12)


@pytest.fixture
def staff(clerk):
    return services.staff_create(
        staff_no="20010001",
        name="张三",
        mobile="+86 138-1234-5678",
        department="基础医学院",
        acting_user=clerk,
    )


@pytest.fixture
def vehicle(staff, clerk):
    return services.vehicle_create(plate="京a·12345", owner=staff, color="白色", acting_user=clerk)


def test_staff_create_normalises_the_phone_and_audits(staff, clerk):
    assert staff.mobile == "13812345678"
    entry = LogEntry.objects.get(action="registry.staff.created")
    assert entry.actor == clerk
    assert entry.staff_no == "20010001"
    assert entry.data["changes"]["mobile"] == [None, "13812345678"]
    assert entry.object_id == str(staff.pk)


def test_staff_update_records_the_diff_and_a_noop_writes_nothing(staff, clerk):
    services.staff_update(staff=staff, name="张三", mobile="13812345678", acting_user=clerk)
    assert not LogEntry.objects.filter(action="registry.staff.updated").exists()
    services.staff_update(
        staff=staff, mobile="139 0000 1111", status="离职", acting_user=clerk, reason="现场变更"
    )
    entry = LogEntry.objects.get(action="registry.staff.updated")
    assert entry.data["changes"] == {"mobile": ["13812345678", "13900001111"], "status": ["active", "left"]}
    assert entry.reason == "现场变更"
    assert entry.staff_no == "20010001"
    staff.refresh_from_db()
    assert (staff.mobile, staff.status) == ("13900001111", Staff.Status.LEFT)


@pytest.mark.parametrize("mobile", ["12345", "1381234567a", "+1 415 555 0100", ""])
def test_bad_phone_is_refused_in_chinese(mobile, staff):
    with pytest.raises(CampusPassError) as caught:
        services.staff_create(staff_no="20010002", name="李四", mobile=mobile)
    assert "手机号" in caught.value.message
    with pytest.raises(CampusPassError):
        services.staff_update(staff=staff, mobile=mobile)
    assert Staff.objects.count() == 1
    assert not LogEntry.objects.filter(action="registry.staff.updated").exists()


def test_duplicate_staff_number_and_bad_staff_number_are_refused(staff):
    with pytest.raises(CampusPassError, match="已登记"):
        services.staff_create(staff_no="20010001", name="李四", mobile="13900001111")
    with pytest.raises(CampusPassError, match="工号"):
        services.staff_create(staff_no="20 01", name="李四", mobile="13900001111")


def test_vehicle_create_normalises_the_plate_and_audits_plate_and_staff_no(vehicle):
    assert vehicle.plate == "京A12345"
    entry = LogEntry.objects.get(action="registry.vehicle.created")
    assert (entry.plate, entry.staff_no) == ("京A12345", "20010001")
    assert entry.data["changes"]["owner"] == [None, "20010001"]


@pytest.mark.parametrize("plate", ["京A1234O", "A12345", "京A123", ""])
def test_bad_plate_is_refused(plate, staff, vehicle):
    with pytest.raises(CampusPassError) as caught:
        services.vehicle_create(plate=plate, owner=staff)
    assert "车牌号" in caught.value.message
    with pytest.raises(CampusPassError):
        services.vehicle_update(vehicle=vehicle, plate=plate)
    assert Vehicle.objects.count() == 1


def test_vehicle_plate_taken_is_refused(staff, vehicle):
    with pytest.raises(CampusPassError, match="已登记"):
        services.vehicle_create(plate="京 A12345", owner=staff)


def test_vehicle_update_owner_change_is_audited(vehicle, clerk):
    other = services.staff_create(staff_no="20010002", name="李四", mobile="13900001111")
    services.vehicle_update(vehicle=vehicle, owner=other, color="白色", acting_user=clerk)
    entry = LogEntry.objects.get(action="registry.vehicle.updated")
    assert entry.data["changes"] == {"owner": ["20010001", "20010002"]}
    assert entry.staff_no == "20010002"
    services.vehicle_update(vehicle=vehicle, owner=other, plate="京a12345")
    assert LogEntry.objects.filter(action="registry.vehicle.updated").count() == 1


def test_pass_create_update_and_rules(vehicle, staff, clerk):
    permit = services.pass_create(
        year=2019,
        number=" yxb2019 00001 ",
        vehicle=vehicle,
        holder=staff,
        valid_from=dt.date(2019, 7, 1),
        valid_to=dt.date(2020, 6, 30),
        acting_user=clerk,
    )
    assert permit.number == "YXB201900001"
    assert permit.source == Pass.Source.ADMIN
    created = LogEntry.objects.get(action="registry.pass.created")
    assert (created.plate, created.staff_no) == ("京A12345", "20010001")

    services.pass_update(permit=permit, review_status=Pass.ReviewStatus.APPROVED)  # no-op
    assert not LogEntry.objects.filter(action="registry.pass.updated").exists()
    services.pass_update(permit=permit, review_status="审核未通过", acting_user=clerk)
    entry = LogEntry.objects.get(action="registry.pass.updated")
    assert entry.data["changes"] == {"review_status": ["approved", "rejected"]}

    with pytest.raises(CampusPassError, match="编号"):
        other_vehicle = services.vehicle_create(plate="京B12345", owner=staff)
        services.pass_create(year=2019, number="YXB201900001", vehicle=other_vehicle, holder=staff)
    with pytest.raises(CampusPassError, match="已有通行证"):
        services.pass_create(year=2019, number="YXB201900002", vehicle=vehicle, holder=staff)
    with pytest.raises(CampusPassError, match="早于"):
        services.pass_update(permit=permit, valid_to=dt.date(2019, 1, 1))
    with pytest.raises(CampusPassError, match="年度"):
        services.pass_create(year=19, number="X1", vehicle=vehicle, holder=staff)
    assert Pass.objects.count() == 1


def test_delete_of_a_referenced_record_is_refused_in_chinese(vehicle, staff, clerk):
    services.pass_create(year=2019, number="P1", vehicle=vehicle, holder=staff)
    with pytest.raises(CampusPassError, match="不能删除"):
        services.record_delete(obj=staff, acting_user=clerk)
    assert Staff.objects.filter(pk=staff.pk).exists()
    assert not LogEntry.objects.filter(action="registry.staff.deleted").exists()
    permit = Pass.objects.get()
    services.record_delete(obj=permit, acting_user=clerk)
    assert LogEntry.objects.get(action="registry.pass.deleted").data["deleted"]["number"] == "P1"
