"""core.compiled.CompiledRead: the same rows as the queryset it compiles, built once."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campuspass.core.compiled import CompiledRead, rows_together
from campuspass.registry.models import Pass, Staff, Vehicle
from campuspass.settings.base import PREPARE_THRESHOLD

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


def staff_of(staff_no):
    return Staff.objects.filter(staff_no=staff_no).order_by().values_list("pk", "name", "created_at")


def vehicles_of(staff_no):
    return Vehicle.objects.filter(owner__staff_no=staff_no).order_by("-plate").values_list("plate", "pk")


def test_rows_together_gives_each_reads_rows_in_one_statement(two_plates):
    passes, staff, vehicles = (
        CompiledRead(passes_of, 1),
        CompiledRead(staff_of, 1),
        CompiledRead(vehicles_of, 1),
    )
    cases = [("京A12345", "80000001"), ("京Z99999", "80000001"), ("京B54321", "00000000"), ("京Z99999", "0")]
    for plate, staff_no in cases:
        with CaptureQueriesContext(connection) as queries:
            many, (one, first) = rows_together(
                (passes, (plate,)), (staff, (staff_no,)), (vehicles, (staff_no,)), order=((0, "ASC"),)
            )
        assert len(queries.captured_queries) == 1
        assert many == passes.rows(plate)
        assert one == (staff.rows(staff_no) or [None])[0]
        # a read of several rows beside the first gives its first row only
        assert first == (vehicles.rows(staff_no) or [None])[0]
    many, _ = rows_together((vehicles, ("80000001",)), (passes, ("京A12345",)), order=((0, "DESC"),))
    assert [plate for plate, _ in many] == ["京B54321", "京A12345"]  # the many read's own order
    with pytest.raises(ValueError, match="order"):  # an ordered read without its order
        rows_together((vehicles, ("80000001",)), (passes, ("京A12345",)))
    with pytest.raises(ValueError, match="order"):
        rows_together((vehicles, ("80000001",)), order=((2, "ASC"),))
    assert isinstance(rows_together((staff, ("80000001",)))[0][0][2], dt.datetime)  # converted


def test_an_argument_the_orm_transforms_is_refused():
    read = CompiledRead(lambda q: Vehicle.objects.filter(plate__contains=q).values_list("pk"), 1)
    with pytest.raises(ValueError, match="as a parameter"):
        read.rows("A1")


# Prepared statements (decision 0044): on PostgreSQL a CompiledRead binds its parameters on the
# server, so psycopg prepares it after PREPARE_THRESHOLD executions on a connection; the ORM's own
# statements (client-side binding) are never prepared; DATABASE_PREPARED=off prepares nothing.

STAFF_NO_PARAMETER = '"registry_staff"."staff_no" = $1'


def staff_pks(staff_no):
    return Staff.objects.filter(staff_no=staff_no).values_list("pk", flat=True)


def prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [statement for (statement,) in cursor.fetchall()]


@pytest.fixture
def prepared(monkeypatch):
    """DATABASE_PREPARED=on for this test's connection, whatever the environment says."""
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements: PostgreSQL only")
    connection.ensure_connection()
    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "prepare_threshold", PREPARE_THRESHOLD)
    monkeypatch.setattr(connection.connection, "prepare_threshold", PREPARE_THRESHOLD)


def test_a_compiled_read_is_prepared_after_the_threshold_the_orms_statements_never(prepared, two_plates):
    read = CompiledRead(staff_pks, 1)
    for n in range(PREPARE_THRESHOLD):
        assert read.rows("80000001" if n == 0 else f"7000000{n}") == (
            [[two_plates[0].holder_id]] if n == 0 else []
        )
    assert not [s for s in prepared_statements() if STAFF_NO_PARAMETER in s]
    with CaptureQueriesContext(connection) as queries:
        assert read.rows("80000001") == [[two_plates[0].holder_id]]  # one more: prepared
        assert read.rows("80000001") == [[two_plates[0].holder_id]]  # and run as prepared
    assert len([s for s in prepared_statements() if STAFF_NO_PARAMETER in s]) == 1
    # the query log still shows the statement with its value
    assert "'80000001'" in queries.captured_queries[-1]["sql"]
    before = prepared_statements()
    for _ in range(PREPARE_THRESHOLD * 2):
        assert list(staff_pks("80000001")) == [two_plates[0].holder_id]
    assert prepared_statements() == before


def test_nothing_is_prepared_with_the_setting_off(prepared, monkeypatch, two_plates):
    monkeypatch.delitem(connection.settings_dict["OPTIONS"], "prepare_threshold")
    read = CompiledRead(staff_pks, 1)
    for _ in range(PREPARE_THRESHOLD * 2):
        assert read.rows("80000001") == [[two_plates[0].holder_id]]
    assert not [s for s in prepared_statements() if STAFF_NO_PARAMETER in s]
