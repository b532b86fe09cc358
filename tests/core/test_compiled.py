"""core.compiled.CompiledRead: the same rows as the queryset it compiles, built once."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campuspass.core.compiled import CompiledRead
from campuspass.registry.models import Pass, Staff, Vehicle

pytestmark = pytest.mark.django_db


def passes_of(plate):
    return (
        Pass.objects.filter(vehicle__plate=plate)
        .order_by("pk")
        .values_list("pk", "valid_from", "vehicle__plate")
    )


@pytest.fixture
def two_plates():
    staff = Staff.objects.create(staff_no="80000001", name="职工", mobile="13800000001", status="active")
    made = []
    for n, plate in enumerate(["京A12345", "京B54321"]):
        vehicle = Vehicle.objects.create(plate=plate, owner=staff)
        made.append(
            Pass.objects.create(
                year=2020 + n,
                number=f"C{n}",
                vehicle=vehicle,
                holder=staff,
                review_status="approved",
                valid_from=dt.date(2026, 1, 1 + n),
                valid_to=None,
            )  # fmt: skip
        )
    return made


def test_rows_equal_the_querysets_with_converted_columns_for_each_argument(two_plates):
    read = CompiledRead(passes_of, 1)
    for plate in ("京A12345", "京B54321", "京Z99999"):
        rows = read.rows(plate)
        assert rows == [list(row) for row in passes_of(plate)]
    assert read.rows("京B54321")[0][1] == dt.date(2026, 1, 2)  # a date, also from SQLite's text


def test_the_sql_is_built_once_and_the_value_is_a_parameter(two_plates):
    read = CompiledRead(passes_of, 1)
    read.rows("京A12345")
    built = []
    read.build = lambda plate: built.append(plate) or passes_of(plate)
    with CaptureQueriesContext(connection) as queries:
        assert read.rows("京A12345' OR '1'='1") == []
    assert built == [] and len(queries.captured_queries) == 1


def test_an_argument_the_orm_transforms_is_refused():
    read = CompiledRead(lambda q: Vehicle.objects.filter(plate__contains=q).values_list("pk"), 1)
    with pytest.raises(ValueError, match="as a parameter"):
        read.rows("A1")
