"""The import's memory does not grow with the file (issue 13): the per-file facts live in a scratch
file, and a chunk holds in memory only what its own rows and the rows still to come need, while the
answers stay those of the whole file (the later row wins, a duplicate far down is still rejected
with the row it repeats)."""

import os

import pytest
from django.db import connection

from campuspass.registry import imports
from campuspass.registry.import_scratch import ImportScratch
from campuspass.registry.imports import import_passes
from campuspass.registry.models import Pass, Staff

from .test_imports import row, write_csv

pytestmark = pytest.mark.django_db

CHUNK = 5


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(imports, "CHUNK_SIZE", CHUNK)


def distinct_rows(count, start=0):
    return [
        row(
            工号=f"2002{n:04d}",
            姓名=f"员工{n}",
            手机号=f"139{n:08d}",
            车牌号=f"京D{n:05d}",
            通行证编号=f"YXB2018{n:05d}",
        )
        for n in range(start, start + count)
    ]


def held_in_memory(importer):
    return {
        name: len(getattr(importer, name))
        for name in (
            "staff_by_no",
            "vehicles",
            "pass_by_number",
            "pass_by_plate",
            "loaded",
            "staff_final",
            "seen_numbers",
            "seen_plates",
        )
    }


@pytest.mark.parametrize("dry_run", [True, False])
def test_what_the_import_holds_in_memory_does_not_grow_with_the_file(tmp_path, monkeypatch, dry_run):
    sizes = []
    apply_chunk = imports.Importer.apply_chunk

    def spy(self, rows, **kwargs):
        apply_chunk(self, rows, **kwargs)
        sizes.append(held_in_memory(self))

    monkeypatch.setattr(imports.Importer, "apply_chunk", spy)
    report = import_passes(path=write_csv(tmp_path / "big.csv", distinct_rows(120)), dry_run=dry_run)

    assert report.imported == 120 and not report.rejected
    assert len(sizes) == 120 // CHUNK
    # Every map holds at most one chunk's entries, whether the file has 10 rows or 120.
    assert max(max(size.values()) for size in sizes) <= CHUNK
    assert Pass.objects.count() == (0 if dry_run else 120)


def test_far_apart_rows_still_answer_for_the_whole_file(tmp_path):
    rows = distinct_rows(40)
    rows.append(row(**{**rows[0], "车牌号": "京E00001"}))  # row 42: pass number of row 2 again
    rows.append(row(**{**rows[1], "通行证编号": "YXB201899999"}))  # row 43: plate of row 3 again
    rows.append(row(**{**rows[2], "车牌号": "京E00003", "通行证编号": "YXB201899998", "姓名": "改名"}))
    report = import_passes(path=write_csv(tmp_path / "far.csv", rows))

    assert [(item["row"], item["field"]) for item in report.rejected] == [(42, "通行证编号"), (43, "车牌号")]
    assert "第2行" in report.rejected[0]["reason"] and "第3行" in report.rejected[1]["reason"]
    assert [item["row"] for item in report.warnings] == [44]
    assert "第4行" in report.warnings[0]["reason"]
    # The later row wins for the staff member, also for the pass written 40 rows earlier.
    assert Staff.objects.get(staff_no="20020002").name == "改名"
    assert report.imported == 41


def test_the_scratch_file_is_removed_afterwards(tmp_path):
    with ImportScratch() as scratch:
        scratch.store_last_use({"p2018:1": 3, "v京A1": 7, "v京A2": 4}, repeated={"v京A2"})
        scratch.store_last_use({"v京A1": 8})  # a later chunk's row
        scratch.store_first_accepted([("n2018:X", 2), ("n2018:X", 9)])
        assert scratch.used_after(["p2018:1", "v京A1", "missing"], 5) == {"v京A1"}
        assert scratch.last_uses(["p2018:1", "v京A1", "v京A2", "missing"]) == {
            "p2018:1": (3, False),
            "v京A1": (8, True),  # used in two chunks
            "v京A2": (4, True),  # used twice in one chunk
        }
        assert scratch.first_accepted(["n2018:X"]) == {"n2018:X": 2}  # the first one stays
        path = scratch.path
    assert not os.path.exists(path)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the planner's statistics are PostgreSQL's")
def test_the_planner_learns_the_tables_sizes_while_the_import_grows_them(tmp_path, monkeypatch):
    monkeypatch.setattr(imports, "ANALYZE_MIN_ROWS", 10)

    def planner_rows():
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'registry_pass'")
            return cursor.fetchone()[0]

    def searched_statistics():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT tablename, attname, n_distinct, most_common_vals::text, histogram_bounds::text"
                " FROM pg_stats WHERE (tablename, attname) IN"
                " (('registry_staff', 'name'), ('registry_staff', 'staff_no'), ('registry_vehicle', 'plate'))"
            )
            return sorted(cursor.fetchall())

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE registry_pass")  # the planner knows of an empty table
    assert planner_rows() == 0
    searched_before = searched_statistics()
    import_passes(path=write_csv(tmp_path / "grow.csv", distinct_rows(40)))
    assert planner_rows() >= 20  # analysed at least once on the way (at 10, then 20 rows written)
    # … but not the substring-searched columns (statistics target 10,000: a whole-table read each
    # time at a million rows) — their statistics are as before the import (none, or autovacuum's)
    assert searched_statistics() == searched_before
    with connection.cursor() as cursor:
        cursor.execute("SELECT attname FROM pg_stats WHERE tablename = 'registry_pass'")
        assert {"number", "vehicle_id"} <= {name for (name,) in cursor.fetchall()}  # the lookups' keys


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the plans are PostgreSQL's")
def test_the_imports_plate_lookup_uses_the_unique_btree_not_the_trigram_index():
    query = "EXPLAIN SELECT id FROM registry_vehicle WHERE plate = ANY(%s)"
    plates = [f"京A{n:05d}" for n in range(1000)]

    def plan(cursor):
        cursor.execute(query, [plates])
        return " ".join(line for (line,) in cursor.fetchall())

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # as on a large registry: an index, but which
        assert "vehicle_plate_trgm" in plan(cursor)  # what the planner picks by itself
        with imports._btree_lookups():
            inside = plan(cursor)
        cursor.execute("SHOW enable_bitmapscan")
        after = cursor.fetchone()[0]
    assert "vehicle_plate_trgm" not in inside and "Index Scan using registry_vehicle_plate" in inside
    assert after == "on"  # reset for whatever the connection does next


def test_only_pass_numbers_and_plates_that_repeat_go_to_the_first_accepted_table(tmp_path, monkeypatch):
    written = []
    store = ImportScratch.store_first_accepted

    def spy(self, accepted):
        accepted = list(accepted)
        written.extend(key for key, _ in accepted)
        store(self, accepted)

    monkeypatch.setattr(ImportScratch, "store_first_accepted", spy)
    rows = distinct_rows(30)
    rows.append(row(**{**rows[3], "车牌号": "京E00001"}))  # row 32: the pass number of row 5 again
    report = import_passes(path=write_csv(tmp_path / "dup.csv", rows))

    assert [(item["row"], item["field"]) for item in report.rejected] == [(32, "通行证编号")]
    assert "第5行" in report.rejected[0]["reason"]
    # Row 5's number and plate (the plate is used by row 5 only, but its number by two rows).
    assert written == ["n2018:YXB201800003"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the planner's statistics are PostgreSQL's")
def test_a_large_registry_is_analysed_early_then_as_it_doubles(monkeypatch):
    """A new year's rows beside a large registry: the first ANALYZE after ANALYZE_MIN_ROWS rows,
    not after as many rows as the registry holds (its year unknown to the planner until then)."""
    monkeypatch.setattr(imports, "ANALYZE_MIN_ROWS", 10)
    statistics = imports._PlannerStatistics()
    statistics.known = 1000  # the planner knows of a registry of 1,000 passes
    analysed = []

    def remember(execute, statement, params, many, context):
        if statement.startswith("ANALYZE"):
            analysed.append(statistics.written)
        return execute(statement, params, many, context)

    with connection.execute_wrapper(remember):
        for _ in range(120):  # 1,200 rows written, 10 a chunk
            statistics.after_chunk(10)
    # at 10 rows (the first), then each time as many as the planner knows of: 1,010, ...
    assert analysed == [10, 1010]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the plans are PostgreSQL's")
def test_the_imports_lookups_probe_an_index_per_key_whatever_the_planner_expects():
    """A chunk's 1,000 keys as `= ANY(…)` are priced as 1,000 matching rows: below a few hundred
    thousand rows the planner reads the whole table instead (and for new keys finds nothing). Each
    key looked up on its own, LIMIT 1, is an index probe however small or large the tables are."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO registry_staff (staff_no, name, department, mobile, status, created_at, updated_at)"
            " SELECT 'S' || n, '职工' || n, '', '139' || lpad(n::text, 8, '0'), 'active', now(), now()"
            " FROM generate_series(1, 3000) AS n"
        )
        cursor.execute(
            "INSERT INTO registry_vehicle (plate, vehicle_type, brand_model, color, plate_colour, plate_type,"
            " owner_id, created_at, updated_at)"
            " SELECT '京A' || lpad(n::text, 5, '0'), '', '', '', 'blue', '02', id, now(), now()"
            " FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM registry_staff) AS s"
        )
        cursor.execute("ANALYZE registry_staff, registry_vehicle")
    sql = (
        "SELECT v.id, v.plate, v.owner_id, s.staff_no FROM registry_vehicle v"
        " JOIN registry_staff s ON s.id = v.owner_id WHERE v.plate IN ({})"
    )
    new_plates = [f"京B{n:05d}" for n in range(1000)]
    executed = []

    def remember(execute, statement, params, many, context):
        executed.append((statement, params))
        return execute(statement, params, many, context)

    with connection.execute_wrapper(remember):
        assert imports._select(sql, new_plates) == []
        assert len(imports._select(sql, ["京A00001", "京B00001", "京A00002"])) == 2

    def plan(statement, params):
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + statement, params)
            return "\n".join(line for (line,) in cursor.fetchall())

    as_one_array = plan(sql.replace("IN ({})", "= ANY(%s)"), [new_plates])
    assert "Seq Scan on registry_" in as_one_array  # what the planner picks for the array by itself
    per_key = plan(*executed[0])
    assert "Seq Scan on registry_" not in per_key and "Hash" not in per_key, per_key
    assert "Index Scan using registry_vehicle_plate_key" in per_key


def test_a_chunks_keys_travel_as_one_text_parameter_and_come_back_whole():
    """`_key_array`: integers and keys joined into one text parameter (the server splits it), except
    text that splitting would not give back unchanged, which goes as a list as before."""
    assert imports._key_array([3, 10, 7]) == ("string_to_array(%s, ',')::bigint[]", "3,10,7")
    assert imports._key_array(["京A00001", "S1"]) == ("string_to_array(%s, chr(31))", "京A00001\x1fS1")
    assert imports._key_array(["S1", "a\x1fb"]) == ("%s::text[]", ["S1", "a\x1fb"])  # holds the separator
    assert imports._key_array(["S1", ""]) == ("%s::text[]", ["S1", ""])  # an empty key would be lost


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the split is PostgreSQL's")
@pytest.mark.parametrize(
    "keys",
    [["京A00001"], ["京A00001", "京B00001", "京A00002"], ["京A00001", "a\x1fb"], ["", "京A00002"], [1, 2]],
    ids=["one", "three", "separator inside", "empty key", "integers"],
)
def test_the_server_gets_back_exactly_the_keys_sent(keys):
    array, parameter = imports._key_array(keys)
    with connection.cursor() as cursor:
        sql = f"SELECT k FROM unnest({array}) WITH ORDINALITY AS u(k, n) ORDER BY n"  # noqa: S608 - ours
        cursor.execute(sql, [parameter])
        assert [k for (k,) in cursor.fetchall()] == keys
