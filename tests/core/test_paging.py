"""page_by_ids (issue 13): the same page as Django's Paginator — same rows, same order, same page
numbers — read as keys first, then the page's rows with their joins and annotations."""

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.test.utils import CaptureQueriesContext

from campuspass.core.paging import Tally, count_each, page_by_ids
from campuspass.registry.models import Staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    Staff.objects.bulk_create(
        Staff(staff_no=f"T{n:04d}", name=f"员工{n % 7}", department="药学院", mobile=f"1380000{n:04d}")
        for n in range(23)
    )
    return Staff.objects.annotate(label=Concat(F("name"), Value("/"), F("staff_no"))).order_by(
        "name", "-staff_no"
    )


@pytest.mark.parametrize("number", [1, 2, 3, "9", "x", None])
def test_the_same_page_as_the_paginator(staff, number):
    expected = Paginator(staff, 10).get_page(number)
    page = page_by_ids(staff, number, 10)
    assert page.number == expected.number and page.paginator.num_pages == expected.paginator.num_pages
    assert [s.pk for s in page.object_list] == [s.pk for s in expected.object_list]
    assert [s.label for s in page.object_list] == [s.label for s in expected.object_list]


def test_the_page_rows_are_read_by_their_keys_alone(staff):
    with CaptureQueriesContext(connection) as captured:
        page = page_by_ids(staff, 2, 10)
    row_reads = [
        q["sql"] for q in captured.captured_queries if "CONCAT" in q["sql"].upper() or "||" in q["sql"]
    ]
    assert len(page.object_list) == 10
    assert len(row_reads) == 1 and " IN (" in row_reads[0]


def test_count_each_counts_every_queryset_up_to_its_cap_in_one_statement(staff):
    everyone = Staff.objects.order_by("staff_no")
    some = Staff.objects.filter(name="员工1").order_by("staff_no")
    with CaptureQueriesContext(connection) as captured:
        counted = count_each({"all": everyone, "some": some, "none": Staff.objects.none()}, 5)
    assert len(captured.captured_queries) == 1
    assert counted["all"] == Tally(5, True) and str(counted["all"]) == "5+"
    assert counted["some"] == Tally(some.count(), False) and str(counted["some"]) == str(some.count())
    assert counted["none"] == Tally(0, False) and not counted["none"]
    assert count_each({"all": everyone, "some": some}, {"all": 100, "some": 1}) == {
        "all": Tally(23, False),
        "some": Tally(1, True),
    }


def test_a_page_given_its_count_is_not_counted_again(staff):
    with CaptureQueriesContext(connection) as captured:
        page = page_by_ids(staff, 3, 10, count=Tally(23, False))
    assert not [q for q in captured.captured_queries if "COUNT(" in q["sql"].upper()]
    assert page.paginator.num_pages == 3 and len(page.object_list) == 3 and not page.paginator.is_capped
    page = page_by_ids(staff, 9, 10, count=Tally(20, True))  # capped: pages through the first 20
    assert page.number == 2 and page.paginator.is_capped


def test_matching_finds_the_rows_first_in_a_limited_subquery_then_orders_them():
    from django.db.models import Q

    from campuspass.core.paging import matching
    from campuspass.registry.models import Staff

    for n in range(5):
        Staff.objects.create(staff_no=f"M{n:04d}", name=f"职工{n}", mobile=f"1390000{n:04d}")
    condition = Q(staff_no="M0001") | Q(mobile="13900000003")
    found = matching(Staff.objects.order_by("-staff_no"), condition)
    assert [s.staff_no for s in found] == ["M0003", "M0001"]  # the list's own order kept
    sql = str(found.query)
    assert "LIMIT 10000" in sql and sql.count("SELECT") == 2  # the matches' keys apart, bounded
    assert [s.staff_no for s in matching(Staff.objects.all(), condition, limit=1)] in (["M0001"], ["M0003"])
