"""Issue 13: `field__any=[…]` finds what `field__in=[…]` finds; on PostgreSQL the values travel as one
array parameter, so the statement's text (and psycopg's parsing of it) does not grow with the list."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campuspass.registry.models import Pass, Staff
from tests.renewals.factories import make_pass

pytestmark = pytest.mark.django_db


@pytest.fixture
def passes():
    return [make_pass(plate=f"京A1000{k}", mobile=f"1380000000{k}") for k in range(4)]


def test_any_finds_what_in_finds(passes):
    holders = [p.holder_id for p in passes[:3]] + [None, passes[0].holder_id]  # NULL and a repeat
    by_in = set(Pass.objects.filter(holder_id__in=holders).values_list("pk", flat=True))
    by_any = set(Pass.objects.filter(holder_id__any=holders).values_list("pk", flat=True))
    assert by_any == by_in == {p.pk for p in passes[:3]}
    staff = [p.holder for p in passes[1:3]]
    assert set(Pass.objects.filter(holder__any=staff)) == set(passes[1:3])  # model instances too
    numbers = [passes[3].holder.staff_no, "不存在"]
    assert list(Staff.objects.filter(staff_no__any=numbers)) == [passes[3].holder]  # a text column


def test_any_of_nothing_matches_nothing(passes):
    with CaptureQueriesContext(connection) as captured:
        assert list(Pass.objects.filter(holder_id__any=[])) == []
        assert list(Pass.objects.filter(holder_id__any=[None])) == []
    assert captured.captured_queries == []  # known empty without asking, as `__in` does


def test_any_or_with_other_conditions(passes):
    from django.db.models import Q

    found = Pass.objects.filter(Q(number=passes[0].number) | Q(holder_id__any=[passes[1].holder_id]))
    assert set(found) == {passes[0], passes[1]}


@pytest.mark.postgres
def test_on_postgresql_the_list_is_one_parameter(passes):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's array parameter")
    few = Pass.objects.filter(holder_id__any=[passes[0].holder_id]).query
    many = Pass.objects.filter(
        holder_id__any=[p.holder_id for p in passes] + list(range(10**6, 10**6 + 300))
    ).query
    few_sql, few_params = few.sql_with_params()
    many_sql, many_params = many.sql_with_params()
    assert few_sql == many_sql and "= ANY(%s)" in many_sql  # the same text whatever the list's length
    assert len(many_params) == len(few_params) == 1
    assert set(Pass.objects.filter(holder_id__any=[p.holder_id for p in passes])) == set(passes)
