"""The bulk writers the import uses (core/bulk.py): on PostgreSQL keys reserved from the sequence and
one COPY, elsewhere multi-row INSERT … RETURNING. Same results on both databases (CI runs this file
on SQLite and PostgreSQL)."""

import datetime as dt

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.utils import timezone

from campuspass.core.bulk import db_converter, insert_many, insert_returning_keys
from campuspass.core.models import LogEntry
from campuspass.registry.models import Staff

pytestmark = pytest.mark.django_db


class Rec:
    def __init__(self, staff_no, name):
        self.pk, self.staff_no, self.name = None, staff_no, name


def test_insert_returning_keys_gives_each_record_its_own_row():
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    Staff.objects.create(staff_no="EXIST", name="已有", mobile="13800000000")
    records = [Rec(f"B{i:04d}", f"职工{i}") for i in range(1200)]  # more than one batch
    insert_returning_keys(
        Staff,
        ["staff_no", "name", "department", "mobile", "status", "created_at", "updated_at"],
        records,
        lambda r: (r.staff_no, r.name, "", "13812345678", "active", now, now),
    )
    keys = [r.pk for r in records]
    assert None not in keys and len(set(keys)) == len(keys)
    stored = dict(Staff.objects.filter(pk__in=keys).values_list("pk", "staff_no"))
    assert stored == {r.pk: r.staff_no for r in records}
    # The sequence moved past the reserved keys: the ORM's next insert does not collide.
    later = Staff.objects.create(staff_no="LATER", name="后来", mobile="13800000001")
    assert later.pk not in stored


def test_insert_many_keeps_json_text_dates_and_nulls():
    data = db_converter(LogEntry, "data")
    content_type = ContentType.objects.get_for_model(Staff)
    now = timezone.now()
    rows = [
        (now, None, "系统", "registry.staff.updated", content_type.pk, str(i), f"对象\t{i}\n", "京A12345", "", "导入",
         data({"changes": {"name": ["旧", "新\\n"]}, "row": i, "day": dt.date(2018, 7, 1).isoformat()}))
        for i in range(3)
    ]  # fmt: skip
    insert_many(
        LogEntry,
        ["created_at", "actor", "actor_label", "action", "content_type", "object_id", "object_repr", "plate",
         "staff_no", "reason", "data"],
        rows,
    )  # fmt: skip
    entries = list(LogEntry.objects.filter(action="registry.staff.updated").order_by("object_id"))
    assert [e.object_repr for e in entries] == ["对象\t0\n", "对象\t1\n", "对象\t2\n"]
    assert entries[1].data == {"changes": {"name": ["旧", "新\\n"]}, "row": 1, "day": "2018-07-01"}
    assert entries[0].actor_id is None and entries[0].created_at == now


def test_values_prepared_for_inserts_store_the_same_as_the_plain_ones():
    """insert_constant / insert_converter (the timestamp once, JSON and dates as COPY's text on
    PostgreSQL) store exactly what db_value / db_converter do."""
    from campuspass.core.bulk import insert_constant, insert_converter
    from campuspass.registry.models import Pass, Vehicle

    now = timezone.now()
    created = insert_constant(LogEntry, "created_at", now)
    if connection.vendor == "postgresql":
        assert isinstance(created, str)  # dumped once, not on every row
    content_type = ContentType.objects.get_for_model(Staff)
    value = {
        "changes": {"name": ["旧\t", "新\\n\n"]},
        "row": 7,
        "created": ["staff", "pass"],
        "values_from_row": None,
    }
    columns = ["created_at", "actor", "actor_label", "action", "content_type", "object_id", "object_repr",
               "plate", "staff_no", "reason", "data"]  # fmt: skip
    for data, object_id in (
        (insert_converter(LogEntry, "data"), "new"),
        (db_converter(LogEntry, "data"), "old"),
    ):
        insert_many(
            LogEntry,
            columns,
            [(created, None, "系统", "registry.staff.updated", content_type.pk, object_id, "对象", "", "", "导入",
              data(value))],
        )  # fmt: skip
    new, old = (LogEntry.objects.get(object_id=key) for key in ("new", "old"))
    assert new.data == old.data == value
    assert new.created_at == old.created_at == now

    staff = Staff.objects.create(staff_no="D1", name="甲", mobile="13800000000")
    vehicle = Vehicle.objects.create(plate="京A12345", owner=staff)
    day = insert_converter(Pass, "valid_from")
    record = Rec("", "")
    insert_returning_keys(
        Pass,
        ["year", "number", "vehicle", "holder", "review_status", "valid_from", "valid_to", "source",
         "created_at", "updated_at"],
        [record],
        lambda r: (2018, "N1", vehicle.pk, staff.pk, "approved", day(dt.date(2018, 7, 1)), day(None), "import",
                   created, created),
    )  # fmt: skip
    permit = Pass.objects.get(pk=record.pk)
    assert (permit.valid_from, permit.valid_to, permit.created_at) == (dt.date(2018, 7, 1), None, now)
