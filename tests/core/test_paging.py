"""page_by_ids (issue 13): the same page as Django's Paginator — same rows, same order, same page
numbers — read as keys first, then the page's rows with their joins and annotations."""

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.test.utils import CaptureQueriesContext

from campuspass.core.paging import page_by_ids
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
