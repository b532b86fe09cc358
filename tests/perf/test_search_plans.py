"""Issue 13, searches: every kind of query is answered by index lookups on PostgreSQL — no
sequential scan of the registry's or the orders' tables (decision 0038).

The tables here are small, so the planner is told not to scan sequentially unless nothing else can
answer (``enable_seqscan = off``): a "Seq Scan" left in the plan means no index fits the statement.
PostgreSQL only (the trigram indexes exist only there); skipped on SQLite."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campuspass.registry.models import Staff
from campuspass.registry.selectors import find_staff
from campuspass.renewals.selectors import find_orders
from tests.backoffice.test_counter import approved_order, paid_order
from tests.renewals.factories import make_campaign

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

BIG = ("registry_staff", "registry_vehicle", "registry_pass", "renewals_renewalorder", "renewals_payment")


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")


@pytest.fixture
def world():
    campaign = make_campaign()
    wanted = approved_order(campaign, mobile="13912348765")
    paid_order(campaign, mobile="13800001111")
    Staff.objects.filter(pk=wanted.staff_id).update(name="欧阳明月")
    wanted.refresh_from_db()
    wanted.staff.refresh_from_db()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return campaign, wanted


def kinds(order):
    staff = order.staff
    return {
        "plate": order.plate,
        "plate spelled": f"{order.plate[0]} {order.plate[1].lower()}·{order.plate[2:]}",
        "plate part": order.plate[2:],
        "staff number": staff.staff_no,
        "staff number part": staff.staff_no[-4:],
        "name": staff.name,
        "name part": staff.name[1:],  # 3 characters: trigram index
        "name prefix": staff.name[:2],  # 2 characters: the name's pattern index
        "phone": "+86 139-1234-8765",
        "phone last 4": "8765",
        "pass number": order.previous_pass.number,
        "new pass number": order.new_pass.number,
        "order number": order.out_trade_no,
        "missing": "不存在的人",
    }


def seq_scans(captured) -> list[str]:
    """The plans, with sequential scans kept, of every statement that reads a big table."""
    found = []
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            for query in captured:
                sql = query["sql"]
                if not sql.startswith("SELECT") or not any(table in sql for table in BIG):
                    continue
                cursor.execute("EXPLAIN " + sql)
                plan = "\n".join(row[0] for row in cursor.fetchall())
                scans = re.findall(r"Seq Scan on (\w+)", plan)
                if any(table in BIG for table in scans):
                    found.append(f"{sql}\n{plan}")
        finally:
            cursor.execute("RESET enable_seqscan")
    return found


def test_counter_search_uses_indexes_for_every_kind(world):
    campaign, wanted = world
    for kind, text in kinds(wanted).items():
        with CaptureQueriesContext(connection) as captured:
            found = list(find_orders(text, campaign=campaign))
        assert (wanted in found) == (kind != "missing"), kind
        assert seq_scans(captured.captured_queries) == [], kind


def test_registry_search_uses_indexes_for_every_kind(world):
    _, wanted = world
    for kind, text in kinds(wanted).items():
        if kind == "order number":
            continue
        with CaptureQueriesContext(connection) as captured:
            found = list(find_staff(text))
        assert (wanted.staff in found) == (kind != "missing"), kind
        assert seq_scans(captured.captured_queries) == [], kind


@pytest.mark.parametrize(
    "changelist",
    [
        "admin:registry_staff_changelist",
        "admin:registry_vehicle_changelist",
        "admin:registry_pass_changelist",
        "admin:renewals_renewalorder_changelist",
    ],
)
def test_admin_searches_use_indexes_and_count_no_full_table(world, admin_client, changelist):
    _, wanted = world
    url = reverse(changelist)
    admin_client.get(url)  # the vehicle-type filter reads its choices once per 10 minutes, not per page
    for kind, text in kinds(wanted).items():
        with CaptureQueriesContext(connection) as captured:
            response = admin_client.get(url, {"q": text})
        assert response.status_code == 200, kind
        assert seq_scans(captured.captured_queries) == [], kind
        counts = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT COUNT(*)")]
        assert all("WHERE" in sql or "LIMIT" in sql for sql in counts), counts  # no count of a whole table


def test_admin_lists_count_at_most_a_page_cap(world, admin_client, monkeypatch):
    from campuspass.registry.admin import PassAdmin, StaffAdmin

    # A page shorter than the list: a list that fits on its first page is not counted at all
    # (decision 0038, addendum 2), so the tables here are made longer than a page.
    monkeypatch.setattr(StaffAdmin, "list_per_page", 1)
    monkeypatch.setattr(PassAdmin, "list_per_page", 1)
    for changelist in ("admin:registry_staff_changelist", "admin:registry_pass_changelist"):
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(reverse(changelist)).status_code == 200
        counts = [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"]]
        assert counts and all("LIMIT" in sql for sql in counts), counts
        assert not [
            q for q in captured.captured_queries if "DISTINCT" in q["sql"] and "registry_pass" in q["sql"]
        ]


def test_the_searched_columns_keep_a_fine_histogram():
    """With the default 100-bucket histogram a million plates gave '%0007%' 20,202 rows instead of
    the 200 it matches, and PostgreSQL walked the whole ``ORDER BY plate`` index filtering row by
    row (690 ms) instead of asking the trigram index (1 ms; docs/decisions/0038, addendum). The
    migrations registry 0006 and renewals 0015 raise the statistics target of every column searched
    by substring; this fails if one is missing or reset."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attrelid::regclass::text, attname, attstattarget FROM pg_attribute "
            "WHERE attrelid IN ('registry_vehicle'::regclass, 'registry_staff'::regclass, "
            "'renewals_renewalorder'::regclass, 'staff_no_upper_trgm'::regclass) AND attstattarget > 0"
        )
        targets = sorted(cursor.fetchall())
    assert targets == [
        ("registry_staff", "name", 10_000),
        ("registry_staff", "staff_no", 10_000),
        ("registry_vehicle", "plate", 10_000),
        ("renewals_renewalorder", "plate", 10_000),
        ("staff_no_upper_trgm", "upper", 10_000),
    ]


def test_no_pattern_copy_of_a_column_searched_only_whole_or_by_substring():
    """Staff numbers, plates and mobile numbers are looked up whole (unique and plain B-trees), by
    substring (trigram) or by the phone's tail (RIGHT(mobile, 4)), never by a prefix: the
    varchar_pattern_ops copies Django adds for LIKE 'prefix%' are gone (each costs every imported row
    an index entry). The name keeps its pattern index (a two-character name is looked up as a prefix)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename IN ('registry_staff', 'registry_vehicle')"
            " AND indexdef LIKE '%%pattern_ops%%'"
        )
        assert [row[0].split(" USING ")[1] for row in cursor.fetchall()] == [
            "btree (name varchar_pattern_ops)"
        ]
